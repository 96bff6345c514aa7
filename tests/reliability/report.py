"""The reliability report: what each fault scenario sent, broke and got back.

Scenarios call ``ReliabilityReport.record`` with their figures; the session
fixture in ``conftest.py`` writes ``build/reliability/reliability-report.md``
when the session ends. A scenario recorded twice (PostgreSQL run, reruns)
keeps its last figures.
"""
import os
import platform
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone

from portal.devstack import PROJECT_ROOT

REPORT_PATH = os.path.join(PROJECT_ROOT, "build", "reliability", "reliability-report.md")


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


class ReliabilityReport:
    def __init__(self, path=REPORT_PATH):
        self.path = path
        self.started = time.monotonic()
        self.scenarios = {}
        self.checks = {}

    def record(self, name, *, sent, faults, faults_injected, appointments, lost, duplicated, seconds=0.0,
               notes=()):
        self.scenarios[name] = Scenario(name, sent, faults, faults_injected, appointments, lost, duplicated,
                                        round(seconds, 1), list(notes))

    def check(self, name, outcome):
        """A bad-input or security check and its outcome (``passed`` unless the test failed first)."""
        self.checks[name] = outcome

    def totals(self):
        rows = self.scenarios.values()
        return {key: sum(getattr(s, key) for s in rows)
                for key in ("sent", "faults_injected", "appointments", "lost", "duplicated")}

    def markdown(self, database):
        total = self.totals()
        elapsed = time.monotonic() - self.started
        lines = [
            "# Calbridge reliability report",
            "",
            f"- Generated: {datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}",
            f"- Database: {database}",
            f"- Python {platform.python_version()}, suite time {elapsed:.0f} s",
            "",
            "## Fault scenarios",
            "",
            "| Scenario | Bookings sent | Faults | Faults injected | Appointments | Lost | Duplicated | Time (s) |",
            "|---|---:|---|---:|---:|---:|---:|---:|",
        ]
        for s in self.scenarios.values():
            lines.append(f"| {s.name} | {s.sent} | {s.faults} | {s.faults_injected} | {s.appointments} | "
                         f"{s.lost} | {s.duplicated} | {s.seconds} |")
        lines.append(f"| **Total** | **{total['sent']}** | | **{total['faults_injected']}** | "
                     f"**{total['appointments']}** | **{total['lost']}** | **{total['duplicated']}** | |")
        notes = [(s.name, n) for s in self.scenarios.values() for n in s.notes]
        if notes:
            lines += ["", "### Notes", ""] + [f"- {name}: {note}" for name, note in notes]
        if self.checks:
            lines += ["", "## Bad input and security checks", "", "| Check | Outcome |", "|---|---|"]
            lines += [f"| {name} | {outcome} |" for name, outcome in sorted(self.checks.items())]
        verdict = "PASS" if total["lost"] == 0 and total["duplicated"] == 0 else "FAIL"
        lines += ["", f"**Verdict: {verdict}** — {total['lost']} lost, {total['duplicated']} duplicated.", ""]
        return "\n".join(lines)

    def write(self, database):
        if not self.scenarios and not self.checks:
            return None
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        with open(self.path, "w") as f:
            f.write(self.markdown(database))
        return self.path
