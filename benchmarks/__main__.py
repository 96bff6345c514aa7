"""``python -m benchmarks`` (``make bench``): run every figure, write the results, print the table.

Options shrink the run for a quick look (``--quick``) or leave figures out
(``--skip intake,backfill``); the full run is what the README reports.
"""
import argparse
import os
import shutil
import signal
import sys
import tempfile
import traceback

from portal import create_app
from portal.extensions import db

from . import apply, automation, backfill, budget, calendly, data, intake, reconcile, results, scale, visible
from .stack import Postgres, Stack, interrupt_safe_stop

STEPS = ("intake", "apply", "visible", "automation", "backfill", "reconcile", "pages", "growth", "postgresql")


def parse(argv):
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true",
                        help="smaller counts and shorter windows (a smoke run; not the README figures)")
    parser.add_argument("--skip", default="", help=f"comma-separated steps to leave out: {', '.join(STEPS)}")
    parser.add_argument("--backfill-scale", type=int, default=None,
                        help="time scale of the backfill's rate limit (500/min × this); by default chosen by "
                             "a calibration step (at most 8), 1 with --quick")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs, databases)")
    parser.add_argument("--output", default=results.RESULTS_DIR, help="where latest.json/latest.md go")
    parser.add_argument("--visible-pages", default=None,
                        help="figure 2's counts of open pages, comma-separated (default 1,50; 1,5 with --quick)")
    parser.add_argument("--visible-seconds", type=float, default=None,
                        help="figure 2's booking window per count of pages (default 60 s; 10 s with --quick)")
    args = parser.parse_args(argv)
    if args.backfill_scale is None and args.quick:
        args.backfill_scale = 1
    args.skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    unknown = args.skip - set(STEPS)
    if unknown:
        parser.error(f"unknown steps: {', '.join(sorted(unknown))}")
    return args


def plan(quick):
    """Counts and durations of each figure (the issue's numbers, or a quick smoke run)."""
    if quick:
        # Smoke counts (CI runs this): each step still runs its whole path, in under 3 minutes on a quiet
        # machine; on a loaded one every step is many times slower.
        return dict(intake_seconds=4, intake_reference=2, intake_probe=1, inbox=1_000, noop=1_000, single=250,
                    visible_rate=10, visible_seconds=5, visible_pages=(1, 5), backfill_events=200,
                    quiet_events=100, sizes=(1_000, 5_000), fig5_size=5_000,
                    growth_apply=200, pg_apply=200, samples=10, history_up_to=5_000,
                    automation_seconds=3, automation_events=300, automation_waits=2_000)
    return dict(intake_seconds=30, intake_reference=10, intake_probe=intake.PROBE_SECONDS, inbox=20_000,
                noop=8_000, single=4_000, visible_rate=20,
                visible_seconds=60, visible_pages=(1, 50), backfill_events=10_000, quiet_events=1_000,
                sizes=(10_000, 100_000, 1_000_000),
                fig5_size=100_000, growth_apply=2_000, pg_apply=2_000, samples=40, history_up_to=100_000,
                automation_seconds=20, automation_events=5_000, automation_waits=100_000)


def log(message):
    print(message, flush=True)


class Run:
    def __init__(self, args):
        self.args, self.p = args, plan(args.quick)
        if args.visible_pages:
            self.p["visible_pages"] = tuple(int(n) for n in args.visible_pages.split(",") if n.strip())
        if args.visible_seconds:
            self.p["visible_seconds"] = args.visible_seconds
        self.out = results.skeleton()
        self.notes = []
        self.workdir = tempfile.mkdtemp(prefix="calbridge-bench-")
        self.stack = Stack(self.workdir)
        self.pg = None
        self.clock = budget.Clock(extra_pids=lambda: [self.pg.postmaster_pid()] if self.pg and self.pg.started
                                  else [])

    def wants(self, step):
        return step not in self.args.skip

    def step(self, name, func):
        """Run one figure; a failure is recorded and the others still run."""
        if not self.wants(name):
            return None
        mark = self.clock.start(name)
        log(f"\n== {name}")
        try:
            return func()
        except Exception as exc:  # one broken figure must not lose the others
            traceback.print_exc()
            self.notes.append(f"{name} failed: {exc.__class__.__name__}: {exc}")
            return None
        finally:
            took = self.clock.stop(mark)
            log(f"   ({took['seconds']:.0f} s)  CPU {took['cpu_seconds']:.0f} s, load {took['load_average'][1]:.1f}")

    # ------------------------------------------------------------ figures
    def intake(self):
        with db.connection_context():
            sub, owner = data.tenant("Intake Dental", "intake@bench.example")
            conn = data.connection(sub, owner)
        result = intake.run(self.stack, conn, seconds=self.p["intake_seconds"],
                            reference_seconds=self.p["intake_reference"], probe_seconds=self.p["intake_probe"],
                            log=log)
        intake.discard(conn)
        self.out["webhook_intake"] = result
        self.notes.append("Figure 1 runs with no RQ worker, so the two cores serve the intake and the load "
                          "process; the deliveries wait in the inbox (each request: one database write, no "
                          "Redis round trip; the web process's wake-up thread queued "
                          f"{result.get('drain_jobs_queued')} drain job(s) for the whole run), as they would if "
                          "workers ran on other machines (SPEC R3).")

    def apply(self):
        with db.connection_context():
            sub, owner = data.tenant("Apply Dental", "apply@bench.example")
            conn = data.connection(sub, owner)
        p, first = self.p, 0
        runs = {}
        for label, count, workers, noop in (("noop-2", p["noop"], 2, True), ("apply-2", p["inbox"], 2, False),
                                            ("apply-1", p["single"], 1, False), ("noop-1", p["single"], 1, True)):
            log(f"  {'no-op' if noop else 'apply'}: {count:,} jobs, {workers} worker{'s' * (workers > 1)} ...")
            runs[label] = apply.measure(self.stack, conn, count, workers, noop=noop, first=first)
            first += count
            log(f"    {runs[label]['rate_per_s']}/s")
        two, one = runs["apply-2"], runs["apply-1"]
        result = {
            "rate_per_s": two["rate_per_s"],
            "ratio_to_noop": round(two["rate_per_s"] / runs["noop-2"]["rate_per_s"], 2),
            "workers": 2,
            "inbox": two["jobs"],
            "seconds": two["seconds"],
            "failed": two["failed"] + one["failed"],
            "noop_rate_per_s": runs["noop-2"]["rate_per_s"],
            "by_workers": {
                "1": {"rate_per_s": one["rate_per_s"], "noop_rate_per_s": runs["noop-1"]["rate_per_s"],
                      "inbox": one["jobs"]},
                "2": {"rate_per_s": two["rate_per_s"], "noop_rate_per_s": runs["noop-2"]["rate_per_s"],
                      "inbox": two["jobs"]},
            },
            "scale_out_2_vs_1": round(two["rate_per_s"] / one["rate_per_s"], 2),
            "goal": apply.GOAL,
        }
        result["met"] = result["rate_per_s"] >= 300 and result["ratio_to_noop"] >= 0.5 and result["failed"] == 0
        self.out["apply_throughput"] = result

    def calendly_account(self):
        """A subaccount whose owner connects a real sandbox account (figures 2 and 4)."""
        if not hasattr(self, "_live"):
            with db.connection_context():
                self._live = data.tenant("Live Dental", "live@bench.example")
        return self._live

    def visible(self):
        sandbox = calendly.Sandbox(self.stack.sandbox_url)
        sub, owner = self.calendly_account()
        email = "visible@calendly.bench"
        sandbox.create_user(email)
        event_type = sandbox.create_event_type("Consultation", [email])
        with db.connection_context():
            calendly.connect(self.stack, owner, sub, email, ["Consultation"])
        self.stack.start_workers(2)
        try:
            self.out["booking_to_visible"] = visible.run(
                sandbox, event_type["uri"], portal_url=self.stack.portal_url, email=owner.email,
                password=data.PASSWORD, web_pid=self.stack.webs["web"].process.pid, pages=self.p["visible_pages"],
                live_pid=self.stack.live.process.pid, workdir=self.workdir,
                rate=self.p["visible_rate"], seconds=self.p["visible_seconds"], log=log)
        finally:
            self.stack.stop_workers()

    def automation(self):
        """Workflows (issue 14): booking to first step, enrolments/s, and the cost of pending Waits."""
        p = self.p
        with db.connection_context():
            sub, owner = data.tenant("Automation Dental", "automation@bench.example")
            self.out["automation"] = automation.run(
                self.stack, sub, owner, (self.out.get("apply_throughput") or {}).get("rate_per_s"), rate=20,
                seconds=p["automation_seconds"], events=p["automation_events"], waits=p["automation_waits"],
                log=log)

    def with_live_user(self, email, measure):
        """``measure(sandbox, subaccount, user)`` for a new member of the live subaccount, with 2 workers up."""
        self.stack.start_workers(2)
        try:
            sub, _ = self.calendly_account()
            with db.connection_context():
                user = data.user(email, sub)
            return measure(calendly.Sandbox(self.stack.sandbox_url), sub, user)
        finally:
            self.stack.stop_workers()

    def backfill(self):
        result = self.with_live_user("history@bench.example", lambda sandbox, sub, user: backfill.run(
            self.stack, sandbox, sub, user, events=self.p["backfill_events"], time_scale=self.args.backfill_scale,
            align=not self.args.quick, log=log))
        self.out["backfill"] = result
        chosen = (f"chosen by calibration (this machine made {result['calibration_calls_per_minute']} calls/min "
                  "with no limit; the limit is at most half of that)" if result.get("calibration_calls_per_minute")
                  else "set on the command line")
        self.notes.append(
            f"Figure 4 scales time by {result['time_scale']}, {chosen}: the sandbox enforces "
            f"{result['rate_limit_per_minute']} requests/min instead of Calendly's 500, so "
            f"{result['seconds']} s here stand for about {result['real_time_estimate_minutes']} min against "
            f"the real limit. {result['events']:,} events (of {result['events_requested']:,} asked for: at most "
            f"{backfill.MAX_WINDOWS} limiter windows). Per window (answered calls / 429s): "
            + ", ".join(f"{w['answered']}/{w['count_429']}" for w in result.get("windows", []))
            + f"; CPU share of the stack during the run {result['cpu_share']:.0%}"
            + ("." if result.get("limiter_bound") else "; NOT bound by the limiter, so no floor ratio is claimed."))

    def reconcile(self):
        self.out["reconciliation"] = self.with_live_user("quiet@bench.example", lambda sandbox, sub, user: (
            reconcile.run(self.stack, sandbox, sub, user, events=self.p["quiet_events"], log=log)))

    def scale(self):
        sizes = [s for s in self.p["sizes"] if self.wants("growth") or s <= self.p["fig5_size"]]

        def keep_figure_5(size, timed):
            if size == self.p["fig5_size"] and self.wants("pages"):
                for name, t in timed.items():
                    self.out["pages"][f"{name}_sqlite"] = t
            if size == self.p["fig5_size"]:
                self.postgres()
                self.snapshot_memory()

        growth = scale.growth(self.stack, sizes, apply_count=self.p["growth_apply"], samples=self.p["samples"],
                              history_up_to=self.p["history_up_to"], on_point=keep_figure_5, log=log)
        if self.wants("growth"):
            self.out["growth"] = growth
            if sizes[-1] >= 1_000_000:
                self.notes.append("Growth: at 1,000,000 appointments only the key pages (calendars, week, "
                                  "contacts) are timed and the subaccount has no per-booking history rows.")

    def postgres(self):
        if not (self.wants("postgresql") and self.wants("pages")):
            return
        mark = self.clock.start("postgresql")
        log("\n== pages on PostgreSQL")
        try:
            self._postgres()
        finally:
            took = self.clock.stop(mark)
            log(f"   (PostgreSQL {took['seconds']:.0f} s)  CPU {took['cpu_seconds']:.0f} s")

    def _postgres(self):
        try:
            self.pg = Postgres(self.workdir).start()
        except RuntimeError as exc:
            self.notes.append(f"PostgreSQL figures skipped: {exc}")
            log(f"  skipped: {exc}")
            return
        try:
            timed, rates = scale.postgres(self.stack, self.pg, self.p["fig5_size"], samples=self.p["samples"],
                                          apply_count=self.p["pg_apply"], log=log)
            for name, t in timed.items():
                self.out["pages"][f"{name}_postgresql"] = t
            fig3 = self.out["apply_throughput"]
            if fig3.get("rate_per_s") is not None:
                fig3["postgresql"] = {"by_workers": {k: {"rate_per_s": v} for k, v in rates.items()},
                                      "scale_out_2_vs_1": round(rates["2"] / rates["1"], 2),
                                      "inbox": self.p["pg_apply"]}
        finally:
            self.pg.stop()

    def snapshot_memory(self):
        peaks = self.stack.note_peaks()
        self.out["memory"] = {"worker_mb": peaks["worker"], "web_mb": peaks["web"], "goal": "≤ 150 MB each",
                              "met": all(v is not None and v <= 150 for v in peaks.values()),
                              "by_process": dict(self.stack.peaks_by_process),
                              "measured": "peak RSS (VmHWM) of each worker and gunicorn worker process over "
                                          "figures 1-5"}

    # ------------------------------------------------------------ whole run
    def go(self):
        log(f"Calbridge benchmarks (work directory {self.workdir})")
        try:
            mark = self.clock.start("start")
            try:
                self.stack.start()
                app = create_app(self.stack.app_config())
            finally:
                self.clock.stop(mark)
            with app.app_context():
                self.step("intake", self.intake)
                self.step("apply", self.apply)
                self.step("visible", self.visible)
                self.step("automation", self.automation)
                self.step("backfill", self.backfill)
                self.step("reconcile", self.reconcile)
                if self.wants("pages") or self.wants("growth"):
                    self.step("pages", self.scale)
            if self.out["memory"].get("worker_mb") is None:
                self.snapshot_memory()
        finally:
            mark = self.clock.start("stop")
            interrupt_safe_stop(self.stack, self.pg)
            if not self.args.keep:
                shutil.rmtree(self.workdir, ignore_errors=True)
            self.clock.stop(mark)
        took = self.clock.summary()
        # "seconds" is the whole run; "steps" each step's wall and CPU seconds and the load around it.
        self.out["run"] = {"seconds": round(took["seconds"]), "quick": self.args.quick,
                           "skipped": sorted(self.args.skip), "notes": self.notes,
                           "cpu_seconds": took["cpu_seconds"], "steps": took["steps"],
                           "load_average_at_end": [round(x, 2) for x in os.getloadavg()]}
        self.out["goals_missed"] = missed(self.out)
        json_path, md_path = results.write(self.out, self.args.output)
        print()
        print(results.render(self.out))
        log("Time per step (wall and CPU seconds; CPU counts the bench and every process it started):")
        for line in self.clock.table():
            log(line)
        log(f"Written {json_path} and {md_path}.")
        # Only a full run is the README's: a quick or partial one would publish smoke figures or gaps.
        if not self.args.quick and not self.args.skip and self.args.output == results.RESULTS_DIR:
            if results.update_readme(self.out):
                log(f"README.md's latest figures rewritten from {json_path}.")
        broken = [n for n in self.notes if " failed: " in n]
        if broken:  # a figure that could not be taken (a missed goal is not this)
            log("Steps that broke: " + "; ".join(broken))
            return 1
        return 0


def missed(out):
    names = {"webhook_intake": "1. webhook intake", "booking_to_visible": "2. booking to visible",
             "apply_throughput": "3. apply throughput", "backfill": "4. backfill", "memory": "6. memory",
             "growth": "7. growth", "reconciliation": "8. reconciliation", "automation": "automation"}
    found = [label for key, label in names.items() if isinstance(out.get(key), dict) and out[key].get("met") is False]
    found += [f"5. {p['label']} ({p['database']})" for p in out.get("pages", {}).values() if not p.get("met")]
    return found


def main(argv=None):
    # A plain kill stops the stack too: SystemExit runs the clean-up that Ctrl-C runs.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    return Run(parse(argv)).go()


if __name__ == "__main__":
    sys.exit(main())
