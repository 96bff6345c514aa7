"""Figure 8: Calendly calls per reconciliation run of a quiet connection (issue 12, item 7; SPEC E5).

The sandbox gets a host with ``events`` upcoming scheduled events (written
straight into its store: no webhooks), the portal connects the account for
real and a worker backfills it. Then ``jobs.sync.reconcile_connection`` runs
in the bench process: once to learn the events, then ``runs`` times with
nothing new. Every call is counted from the sandbox's request log.
"""
import time
import uuid

import requests

from portal.extensions import db
from portal.models import CalendlyConnection

from . import calendly
from .backfill import count_requests, seed_sandbox

GOAL_CALLS = 12
GOAL = f"≤ {GOAL_CALLS} calls per run with 1,000 upcoming events and nothing new"


def sandbox_calls(stack, run):
    """``run()``, then ``(api_calls, invitee_calls)`` the sandbox logged meanwhile."""
    offset = stack.log_offset(stack.sandbox)
    run()
    mark = f"/_sandbox/health?mark={uuid.uuid4().hex}"
    requests.get(stack.sandbox_url + mark, timeout=10)
    deadline = time.monotonic() + 30
    text = ""
    while mark not in text:
        if time.monotonic() > deadline:
            raise RuntimeError("the sandbox did not log the reconciliation's requests within 30 s")
        time.sleep(0.05)
        text = stack.read_log(stack.sandbox, offset)
    lines = text[:text.index(mark)]
    calls = count_requests(lines)[0]
    invitees = count_requests("\n".join(line for line in lines.splitlines() if "/invitees" in line))[0]
    return calls, invitees


def run(stack, sandbox, subaccount, user, events=1_000, runs=3, log=print):
    from jobs.sync import reconcile_connection

    email = "quiet@calendly.bench"
    sandbox.create_user(email)
    event_type = sandbox.create_event_type("Quiet", [email])
    log(f"  writing {events} upcoming Calendly events into the sandbox ...")
    seed_sandbox(stack.sandbox_db, email, event_type["uri"], events, days=30, upcoming=True)
    sandbox.faults(rate_limit_per_minute=1_000_000)  # the import is not what this figure measures
    try:
        with db.connection_context():
            conn = calendly.connect(stack, user, subaccount, email, ["Quiet"])
        deadline = time.monotonic() + 600
        while True:
            with db.connection_context():
                if CalendlyConnection.get_by_id(conn.id).backfilled_at is not None:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError("the backfill of the quiet account did not finish within 600 s")
            time.sleep(0.2)
        log("  reconciliation: the first run, then quiet runs ...")
        first_calls, first_invitees = sandbox_calls(stack, lambda: reconcile_connection(conn.id))
        quiet = [sandbox_calls(stack, lambda: reconcile_connection(conn.id)) for _ in range(runs)]
    finally:
        sandbox.clear_faults()
    calls = max(c for c, _ in quiet)
    result = {
        "upcoming_events": events,
        "calls_per_run": calls,
        "invitee_calls_per_run": max(i for _, i in quiet),
        "quiet_runs": runs,
        "first_run_calls": first_calls,
        "first_run_invitee_calls": first_invitees,
        "goal": GOAL,
        "met": calls <= GOAL_CALLS,
    }
    log(f"    first run {first_calls} calls, then {calls} per quiet run")
    return result
