"""Calendly misbehaving: 30% of webhooks dropped, 20% of API calls 5xx, rate limits (SPEC E5, W6, C6).

With the faults on, bookings keep coming; what the webhooks lose the
reconciliation finds. A reconciliation stopped by a 5xx that outlasts the
client's retries raises for RQ to run it again (the test is that retry
loop); one stopped by a 429 is scheduled again after Calendly's reset.
Nothing imported before stopping is imported twice, and the connection
never turns to Reconnect needed.
"""
import time
from datetime import UTC, datetime

import pytest
from rq.registry import ScheduledJobRegistry

from jobs.sync import reconcile_connection
from portal.calendly.errors import TransientError
from portal.models import CalendlyConnection, Status
from portal.queues import get_redis

from .helpers import Booker, job_arguments, leaks, redis_texts, tally, wait_until

pytestmark = pytest.mark.reliability

BOOKINGS = 40


def reconcile_until_done(connection_id, attempts=15):
    """What RQ and the scheduler do: run the reconciliation again until it completes."""
    failures = []
    for _ in range(attempts):
        try:
            reconcile_connection(connection_id)
            return failures
        except TransientError as exc:
            failures.append(exc)
    raise AssertionError(f"the reconciliation never completed: {failures[-3:]}")


def until_rate_limited(connection_id, attempts=10):
    """Run the reconciliation (again after a 5xx that outlasted the retries) until a 429 stops it;
    returns how many seconds later it is scheduled to run again."""
    for _ in range(attempts):
        try:
            reconcile_connection(connection_id)
        except TransientError:
            continue
        later = runs_after_429(connection_id)
        if later:
            return later[0]
    raise AssertionError("the rate limit never stopped the reconciliation")


def runs_after_429(connection_id, queue="default", kind="reconcile"):
    """Seconds from now to each run scheduled again after a 429."""
    registry = ScheduledJobRegistry(queue, connection=get_redis())
    now = datetime.now(UTC)
    return [(registry.get_scheduled_time(j) - now).total_seconds() for j in registry.get_job_ids()
            if j.startswith(f"{kind}-{connection_id}-after-429-")]


def test_dropped_webhooks_server_errors_and_rate_limits_lose_and_duplicate_nothing(
        app, private_live, sandbox, procs, secrets, debug_logs, reliability_report):
    started = time.monotonic()
    app.config["CALENDLY_RETRY_BACKOFF_SECONDS"] = 0.05
    conn = private_live.connection
    sandbox.faults(webhook_drop_rate=0.3, api_error_rate=0.2, seed=20261121)
    booker = Booker(sandbox, private_live.cleaning["uri"])
    booker.book(BOOKINGS)

    wanted = set(booker.uris)
    attempts = wait_until(lambda: (lambda seen: seen if {a["invitee"] for a in seen} == wanted else None)(
        [a for a in sandbox.deliveries() if a["invitee"] in wanted]), timeout=30, message="every webhook attempt")
    dropped = {a["invitee"] for a in attempts if a["dropped"]}
    delivered = wanted - dropped
    assert dropped and delivered, "the drop rate did not split the deliveries"
    wait_until(lambda: tally(delivered)["lost"] == 0, timeout=30, message="the delivered bookings")
    assert tally(dropped)["appointments"] == 0

    # Rate limited: the reconciliation stops and is scheduled again after Calendly's reset (up to a minute away).
    sandbox.faults(rate_limit_per_minute=8)
    limited = until_rate_limited(conn.id)
    assert 0 < limited <= 61
    assert CalendlyConnection.get_by_id(conn.id).status == Status.CONNECTED
    partial = tally(booker.uris)
    assert partial["duplicated"] == 0

    # The limit's window passes (the override is lifted); 5xx and drops stay on.
    sandbox.faults(rate_limit_per_minute=None)
    failures = reconcile_until_done(conn.id)

    figures = tally(booker.uris)
    assert figures["missing"] == [] and figures["duplicated"] == 0
    assert CalendlyConnection.get_by_id(conn.id).status == Status.CONNECTED
    server_errors = sum(1 for r in debug_logs.records if "-> 500" in r.getMessage())
    rate_waits = sum(1 for r in debug_logs.records if "rate limit: waiting" in r.getMessage())
    assert server_errors > 0

    secrets.from_connections()
    redis = get_redis()
    places = {**redis_texts(redis), **job_arguments(redis), **procs.logs(), "portal log records": debug_logs.text}
    assert leaks(secrets, places) == []

    reliability_report.record(
        "Calendly faults", sent=BOOKINGS, faults="webhooks dropped 30%, API 5xx 20%, rate limit 429",
        faults_injected=len(dropped) + server_errors + 1 + rate_waits,
        appointments=figures["appointments"], lost=figures["lost"], duplicated=figures["duplicated"],
        seconds=time.monotonic() - started,
        notes=[f"{len(dropped)} webhooks dropped, {server_errors} API calls answered 5xx, "
               f"1 reconciliation stopped by a 429 (run again {limited:.0f} s later; "
               f"{rate_waits} short limits waited out), {len(failures)} reconciliation runs retried after "
               "5xx outlasted the client's retries; every dropped booking imported by the reconciliation"],
    )
