"""Each extension point is described once: the engine table, the command line and the README's
engine table agree, and so do the bound table and the input formats."""

import re
from pathlib import Path

from lrcount import bounds
from lrcount.cli import build_parser
from lrcount.engines import ENGINE_NAMES, ENGINES, auto_rule

README = Path(__file__).resolve().parents[1] / "README.md"


def readme_table(heading: str) -> dict[str, list[str]]:
    """The rows of the first table under ``heading``, by their first cell (backticks removed)."""
    text = README.read_text().split(heading, 1)[1]
    rows = {}
    for line in text.splitlines():
        if not line.startswith("|"):
            if rows:
                break
            continue
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if cells[0] not in ("name", "") and not set(cells[0]) <= set("-"):
            rows[cells[0].strip("`")] = cells[1:]
    return rows


def test_the_readme_engine_table_is_the_engine_table():
    rows = readme_table("## Engines")
    assert set(rows) == {"auto", *ENGINE_NAMES}
    for spec in ENGINES:
        domains, method, lists = rows[spec.name]
        assert (domains, method, lists) == (spec.domains, spec.summary, "yes" if spec.lists_regions else "no"), spec.name
    assert rows["auto"][1].startswith(auto_rule())


def test_the_command_line_offers_exactly_the_engines_of_the_table():
    count = build_parser()._subparsers._group_actions[0].choices["count"]
    engine = next(action for action in count._actions if action.dest == "engine")
    assert set(engine.choices) == {"auto", *ENGINE_NAMES}
    assert all(spec.name in engine.help for spec in ENGINES) and auto_rule() in engine.help


def test_every_bound_of_the_table_is_computed_and_offered_by_the_command_line(tmp_path):
    from lrcount import ReLUNetwork

    net = ReLUNetwork.random([1, 9, 9], seed=0)  # one input and n_l >= 3 n_0: every bound applies
    values = {b.method: b for b in bounds.compute_bounds(net.widths, densities=[0.5, 0.5], network=net)}
    assert list(values) == list(bounds.METHODS) == [spec.name for spec in bounds.BOUND_SPECS]
    assert all(values[m].scope == bounds.BOUNDS[m].scope and values[m].kind == bounds.BOUNDS[m].kind for m in values)
    bound = build_parser()._subparsers._group_actions[0].choices["bound"]
    method = next(action for action in bound._actions if action.dest == "method")
    assert all(name in method.help for name in bounds.METHODS)


def test_the_input_formats_named_in_errors_are_the_loaders():
    from lrcount.io import LOADERS

    message = re.search(r"use (.*)$", _unknown_format_message()).group(1)
    assert sorted(re.findall(r"\.\w+", message)) == sorted(LOADERS)


def _unknown_format_message() -> str:
    import pytest

    from lrcount import LRCountError
    from lrcount.io import load

    with pytest.raises(LRCountError) as error:
        load(__file__)
    return str(error.value)
