"""The reliability report says FAIL when a scenario fails: its verdict comes from pytest's outcomes."""
import pytest

from .report import ReliabilityReport

pytestmark = pytest.mark.reliability


def _scenario(report, name, test, outcome, message=""):
    report.start(test)
    report.record(name, sent=10, faults="none", faults_injected=0, appointments=10, lost=0, duplicated=0)
    report.phase(test, "setup", "passed")
    report.phase(test, "call", outcome, message)
    report.phase(test, "teardown", "passed")


def test_a_failing_scenario_shows_fail_with_its_assertion_message_and_fails_the_verdict(tmp_path):
    report = ReliabilityReport(str(tmp_path / "r.md"))
    _scenario(report, "Calm", "t.py::test_calm", "passed")
    _scenario(report, "Broken on purpose", "t.py::test_broken", "failed",
              "AssertionError: assert 9 == 10\n +  where 9 = count()")
    text = report.markdown("SQLite")
    assert "| Calm | PASS |" in text
    assert "| Broken on purpose | FAIL |" in text
    assert "AssertionError: assert 9 == 10 + where 9 = count()" in text
    assert report.verdict() == "FAIL" and "**Verdict: FAIL**" in text


def test_a_test_that_fails_before_recording_its_figures_still_shows_and_fails_the_verdict(tmp_path):
    report = ReliabilityReport(str(tmp_path / "r.md"))
    _scenario(report, "Calm", "t.py::test_calm", "passed")
    report.start("t.py::test_early")
    report.phase("t.py::test_early", "setup", "failed", "RuntimeError: redis-server did not start")
    text = report.markdown("SQLite")
    assert "`t.py::test_early` | ERROR | RuntimeError: redis-server did not start" in text
    assert "**Verdict: FAIL**" in text


def test_all_scenarios_passing_with_nothing_lost_is_a_pass_and_skips_are_listed(tmp_path):
    report = ReliabilityReport(str(tmp_path / "r.md"))
    _scenario(report, "Calm", "t.py::test_calm", "passed")
    report.start("t.py::test_pg_only")
    report.phase("t.py::test_pg_only", "setup", "skipped", "Skipped: PostgreSQL only")
    report.start("t.py::test_check")
    report.check("Forged state", "refused")
    report.phase("t.py::test_check", "call", "passed")
    text = report.markdown("SQLite")
    assert "| Forged state | PASS | refused |" in text
    assert "`t.py::test_pg_only` | SKIPPED | Skipped: PostgreSQL only" in text
    assert report.verdict() == "PASS" and "**Verdict: PASS**" in text
