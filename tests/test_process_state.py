"""A library call leaves its caller's process alone: counts in threads, prints from other
threads during a count, and the descriptors and streams afterwards. Each case runs in a fresh
interpreter, where HiGHS has not printed its banner yet and fds 1 and 2 are real pipes."""

import subprocess
import sys
import textwrap


def run_script(body: str) -> subprocess.CompletedProcess:
    script = textwrap.dedent(body)
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)


def test_concurrent_counts_in_threads_leave_stdout_and_stderr_working():
    """Two counts at once once left fds 1 and 2 on /dev/null and sys.stderr closed (2 runs of
    3): the script then printed nothing and exited 1."""
    done = run_script("""
        import sys, threading
        from lrcount import Box, ReLUNetwork, count_regions
        net = ReLUNetwork.random([3, 10, 10], seed=1)
        results = []
        for attempt in range(3):
            threads = [threading.Thread(target=lambda e=e: results.append(count_regions(net, Box(-1, 1), engine=e).count))
                       for e in ("vertex", "vertex", "milp", "split")]
            for t in threads: t.start()
            for t in threads: t.join()
            print(f"out {attempt}", flush=True)
            print(f"err {attempt}", file=sys.stderr, flush=True)
        assert len(set(results)) == 1 and len(results) == 12, results
    """)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["out 0", "out 1", "out 2"]
    assert [line for line in done.stderr.splitlines() if line.startswith("err")] == ["err 0", "err 1", "err 2"]


def test_a_thread_printing_during_a_three_second_count_loses_no_line():
    """The count used to point fds 1 and 2 at /dev/null for its whole length. Solvers are
    silenced through their own options now, so every line arrives, and nothing else reaches
    stdout (no solver banner)."""
    done = run_script("""
        import os, sys, threading, time
        from lrcount import Box, ReLUNetwork, count_regions
        net = ReLUNetwork.random([4, 24, 24], seed=2)
        stop = threading.Event()
        def ticker():
            i = 0
            while not stop.is_set():
                print(f"tick {i}", flush=True)
                os.write(2, f"raw {i}\\n".encode())
                i += 1
                time.sleep(0.01)
            print(f"ticks {i}", flush=True)
        t = threading.Thread(target=ticker)
        t.start()
        for engine in ("milp", "split"):
            result = count_regions(net, Box(-1, 1), engine=engine, time_limit=1.5)
        stop.set()
        t.join()
    """)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    n = int(lines[-1].split()[1])
    assert n > 50
    assert lines == [f"tick {i}" for i in range(n)] + [f"ticks {n}"]
    assert [line for line in done.stderr.splitlines() if line.startswith("raw")] == [f"raw {i}" for i in range(n)]
