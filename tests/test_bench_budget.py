"""The bench's time budget: each step's wall and CPU seconds, and the plan ``--quick`` runs (issue 19, item 10)."""
import os
import subprocess
import sys
import time

from benchmarks import budget, results
from benchmarks.__main__ import plan

BURN = "import time\nend = time.process_time() + {seconds}\nwhile time.process_time() < end: pass\n"


def started_processes_cpu():
    """The tree's CPU seconds less the bench process's own (reading /proc costs some of that)."""
    own = os.times()
    return budget.tree_cpu_seconds() - own.user - own.system


def test_a_step_counts_the_cpu_of_the_processes_the_bench_started_while_they_run_and_after_they_end():
    before = started_processes_cpu()
    # A child that burns 0.6 s of CPU, then stays alive waiting on its stdin.
    child = subprocess.Popen([sys.executable, "-c", BURN.format(seconds=0.6) + "import sys; sys.stdin.read()"],
                             stdin=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120  # a loaded machine gives the child a small share
        while started_processes_cpu() - before < 0.55 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert started_processes_cpu() - before >= 0.55  # the live child, read from /proc
    finally:
        child.communicate(b"")
    assert started_processes_cpu() - before >= 0.55  # the child that ended, through os.times()


def test_a_step_inside_another_is_shown_under_it_and_not_counted_twice():
    clock = budget.Clock()
    outer = clock.start("pages")
    inner = clock.start("postgresql")
    subprocess.run([sys.executable, "-c", BURN.format(seconds=0.3)], check=True)
    clock.stop(inner)
    clock.stop(outer)
    summary = clock.summary()
    assert list(summary["steps"]) == ["pages", "postgresql"]  # in the order they began
    assert summary["steps"]["postgresql"]["within"] == "pages"
    assert summary["steps"]["pages"]["cpu_seconds"] >= 0.3
    assert summary["cpu_seconds"] == summary["steps"]["pages"]["cpu_seconds"]
    assert len(summary["steps"]["pages"]["load_average"]) == 2
    table = clock.table()
    assert table[1].startswith("  pages") and table[2].startswith("    postgresql")
    assert table[-1].lstrip().startswith("total")


def test_the_results_line_names_each_steps_time_beside_the_total():
    out = results.skeleton()
    out["run"] = {"seconds": 812, "cpu_seconds": 990.4, "notes": [], "steps": {
        "intake": {"seconds": 61.2, "cpu_seconds": 88.0, "load_average": [0.1, 1.9]},
        "pages": {"seconds": 300.0, "cpu_seconds": 280.0, "load_average": [1.0, 1.2]},
        "postgresql": {"seconds": 90.0, "cpu_seconds": 70.0, "load_average": [1.0, 1.1], "within": "pages"}}}
    text = results.render(out)
    assert ("Total bench time: 812 s (CPU 990 s; by step, wall/CPU: intake 61/88 s, pages 300/280 s)."
            in text)


def test_the_quick_plan_is_a_smaller_run_of_every_figure():
    quick, full = plan(True), plan(False)
    assert set(quick) == set(full)
    for key, value in full.items():
        if isinstance(value, (int, float)) and key != "visible_rate":
            assert 0 < quick[key] <= value, key
    assert full["visible_pages"] == (1, 50) and full["sizes"][-1] == 1_000_000
