"""Every reference in the docstrings and the docs resolves: the files they name exist, and the
sections of docs/theory.md they cite are there."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCES = [*ROOT.glob("lrcount/**/*.py"), *ROOT.glob("docs/*.md"), ROOT / "README.md", *ROOT.glob("benchmarks/*.py")]
PATH = re.compile(r"(?<![\w/.])((?:docs|lrcount|tests|benchmarks)/[\w/.-]*\w\.(?:md|py|png|json))")
PLACEHOLDER = re.compile(r"/[A-Z]+\.py$")  # a name to choose (lrcount/engines/NAME.py), not a file
SECTION = re.compile(r"theory\.md,? (?:section|sections) (\d+)")
NAMED = re.compile(r'theory\.md, "([^"]+)"')


def test_every_file_a_doc_or_docstring_names_exists():
    missing = {(source.relative_to(ROOT).as_posix(), path) for source in SOURCES
               for path in PATH.findall(source.read_text()) if not (ROOT / path).exists() and not PLACEHOLDER.search(path)}
    assert not missing, sorted(missing)


def test_every_cited_section_of_the_theory_exists():
    theory = (ROOT / "docs" / "theory.md").read_text()
    numbered = set(re.findall(r"^## (\d+)\.", theory, re.M))
    headings = set(re.findall(r"^#+ (.+)$", theory, re.M))
    for source in SOURCES:
        text = source.read_text()
        assert set(SECTION.findall(text)) <= numbered, source
        for name in NAMED.findall(text):
            assert " ".join(name.split()) in headings, (source, name)
