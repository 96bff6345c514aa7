"""The reliability report: what each fault scenario sent, broke and got back, and whether it passed.

Scenarios call ``ReliabilityReport.record`` with their figures and checks
``ReliabilityReport.check`` with what they saw; ``conftest.py``'s
``pytest_runtest_makereport`` hook gives every test of the suite its real
outcome (passed, failed, error, skipped) and, for a failure, its assertion
message. A test that fails before it records anything still has a row. The
verdict is computed from those outcomes and figures; the session fixture
writes ``build/reliability/reliability-report.md`` when the session ends. A
scenario recorded twice (PostgreSQL run, reruns) keeps its last figures.
"""
import os
import platform
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone

from portal.devstack import PROJECT_ROOT

REPORT_PATH = os.path.join(PROJECT_ROOT, "build", "reliability", "reliability-report.md")
OUTCOME_WORDS = {"passed": "PASS", "failed": "FAIL", "error": "ERROR", "skipped": "SKIPPED"}
MESSAGE_CHARS = 300


@dataclass
class Scenario:
    name: str
    sent: int
    faults: str
    faults_injected: int
    appointments: int
    lost: int
    duplicated: int
    seconds: float = 0.0
    notes: list = field(default_factory=list)
    test: str = ""


@dataclass
class Outcome:
    """One test's result as pytest saw it (the worst of its setup, call and teardown)."""

    test: str
    outcome: str = "passed"
    message: str = ""

    @property
    def word(self):
        return OUTCOME_WORDS[self.outcome]


def short(message):
    """The first lines of a failure, on one line (the assertion and what it compared)."""
    text = " ".join(" ".join(str(message).strip().splitlines()[:2]).split()).replace("|", "/")
    return text if len(text) <= MESSAGE_CHARS else text[:MESSAGE_CHARS - 1] + "…"


class ReliabilityReport:
    def __init__(self, path=REPORT_PATH):
        self.path = path
        self.started = time.monotonic()
        self.scenarios = {}
        self.checks = {}  # name -> (test, what the check saw)
        self.outcomes = {}  # test id -> Outcome
        self.current = ""

    # ---------------------------------------------------------------- filled by the tests
    def record(self, name, *, sent, faults, faults_injected, appointments, lost, duplicated, seconds=0.0,
               notes=()):
        self.scenarios[name] = Scenario(name, sent, faults, faults_injected, appointments, lost, duplicated,
                                        round(seconds, 1), list(notes), self.current)

    def check(self, name, outcome):
        """A bad-input or security check and what it saw; its verdict is its test's outcome."""
        self.checks[name] = (self.current, outcome)

    # ---------------------------------------------------------------- filled by the pytest hook
    def start(self, test):
        self.current = test
        self.outcomes[test] = Outcome(test)

    def phase(self, test, when, outcome, message=""):
        """One phase's report: a failed call is a failure, a failed setup or teardown an error."""
        row = self.outcomes.setdefault(test, Outcome(test))
        if outcome == "failed":
            row.outcome, row.message = ("failed" if when == "call" else "error"), short(message)
        elif outcome == "skipped" and row.outcome == "passed":
            row.outcome, row.message = "skipped", short(message)

    # ---------------------------------------------------------------- the verdict
    def _outcome(self, test):
        return self.outcomes.get(test) or Outcome(test)

    def unrecorded(self):
        """Tests that failed, errored or were skipped without recording a scenario or a check."""
        named = {s.test for s in self.scenarios.values()} | {t for t, _ in self.checks.values()}
        return [o for t, o in self.outcomes.items() if t not in named and o.outcome != "passed"]

    def totals(self):
        rows = self.scenarios.values()
        total = {key: sum(getattr(s, key) for s in rows)
                 for key in ("sent", "faults_injected", "appointments", "lost", "duplicated")}
        counts = {word: 0 for word in OUTCOME_WORDS}
        for o in self.outcomes.values():
            counts[o.outcome] += 1
        total["tests"] = counts
        return total

    def verdict(self):
        total = self.totals()
        broken = total["tests"]["failed"] + total["tests"]["error"]
        return "PASS" if broken == 0 and total["lost"] == 0 and total["duplicated"] == 0 else "FAIL"

    def markdown(self, database):
        total = self.totals()
        elapsed = time.monotonic() - self.started
        counts = total["tests"]
        lines = [
            "# Calbridge reliability report",
            "",
            f"- Generated: {datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}",
            f"- Database: {database}",
            f"- Python {platform.python_version()}, suite time {elapsed:.0f} s",
            f"- Tests: {sum(counts.values())} run: {counts['passed']} passed, {counts['failed']} failed, "
            f"{counts['error']} errors, {counts['skipped']} skipped",
            "",
            "## Fault scenarios",
            "",
            "| Scenario | Outcome | Bookings sent | Faults | Faults injected | Appointments | Lost | Duplicated "
            "| Time (s) |",
            "|---|---|---:|---|---:|---:|---:|---:|---:|",
        ]
        for s in self.scenarios.values():
            lines.append(f"| {s.name} | {self._outcome(s.test).word} | {s.sent} | {s.faults} | {s.faults_injected} "
                         f"| {s.appointments} | {s.lost} | {s.duplicated} | {s.seconds} |")
        lines.append(f"| **Total** | | **{total['sent']}** | | **{total['faults_injected']}** | "
                     f"**{total['appointments']}** | **{total['lost']}** | **{total['duplicated']}** | |")
        failures = [self._outcome(s.test) for s in self.scenarios.values()]
        failures += [self._outcome(t) for t, _ in self.checks.values()]
        failures += self.unrecorded()
        failures = list({o.test: o for o in failures if o.outcome in ("failed", "error", "skipped")}.values())
        notes = [(s.name, n) for s in self.scenarios.values() for n in s.notes]
        if notes:
            lines += ["", "### Notes", ""] + [f"- {name}: {note}" for name, note in notes]
        if self.checks:
            lines += ["", "## Bad input and security checks", "", "| Check | Outcome | What it saw |", "|---|---|---|"]
            lines += [f"| {name} | {self._outcome(test).word} | {seen} |"
                      for name, (test, seen) in sorted(self.checks.items())]
        if failures:
            lines += ["", "## Failed, errored or skipped tests", "", "| Test | Outcome | Message |", "|---|---|---|"]
            lines += [f"| `{o.test}` | {o.word} | {o.message} |" for o in failures]
        broken = counts["failed"] + counts["error"]
        lines += ["", f"**Verdict: {self.verdict()}** — {broken} test{'s' * (broken != 1)} failed or errored, "
                      f"{total['lost']} lost, {total['duplicated']} duplicated.", ""]
        return "\n".join(lines)

    def write(self, database):
        if not self.scenarios and not self.checks and not self.outcomes:
            return None
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        with open(self.path, "w") as f:
            f.write(self.markdown(database))
        return self.path
