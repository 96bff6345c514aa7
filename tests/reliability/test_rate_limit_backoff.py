"""Calendly's 429s are backoff, never Error (issue 12, item 6): the run goes again after Calendly's reset.

Against the sandbox with a tiny per-minute limit; the client's short waits are
turned off so every 429 reaches the job at once.
"""
from datetime import UTC, datetime

import pytest
from rq import Queue
from rq.registry import ScheduledJobRegistry

from jobs.sync import backfill_connection, reconcile_all, reconcile_connection
from portal.models import CalendlyConnection, Status, Subaccount
from portal.queues import get_redis
from portal.pipeline import backfill
from sync.helpers import connect_via_sandbox

pytestmark = [pytest.mark.reliability, pytest.mark.portal_config(
    RQ_ASYNC=False, CALENDLY_RETRY_BACKOFF_SECONDS=0, CALENDLY_RATE_LIMIT_MAX_WAIT_SECONDS=0)]


@pytest.fixture
def ada(app_ctx, sandbox, stack, people):
    sandbox.create_user("ada@cal.test")
    sandbox.create_event_type("Cleaning", hosts=["ada@cal.test"])
    user = people.user("ada@acme.test")
    return lambda: connect_via_sandbox(stack, user, Subaccount.get(name="Acme Dental"), "ada@cal.test", ["Cleaning"])


def runs_after_429(queue, prefix):
    """Seconds from now to each run scheduled again after a 429."""
    registry = ScheduledJobRegistry(queue, connection=get_redis())
    now = datetime.now(UTC)
    return [(registry.get_scheduled_time(j) - now).total_seconds() for j in registry.get_job_ids()
            if j.startswith(prefix)]


def test_rate_limited_reconciliations_never_turn_the_connection_to_error(ada, sandbox, app):
    conn = ada()
    sandbox.faults(rate_limit_per_minute=1)  # the sandbox counts the minute's calls so far: every call is over
    for _ in range(4):  # more than the three failures that turn a connection to Error
        assert reconcile_connection(conn.id) is None
    after = CalendlyConnection.get_by_id(conn.id)
    assert (after.status, after.failure_count, after.last_error) == (Status.CONNECTED, 0, None)

    later = runs_after_429("default", f"reconcile-{conn.id}-after-429-")
    assert later and all(0 < s <= 61 for s in later)  # X-RateLimit-Reset: the rest of Calendly's minute
    app.config["RQ_ASYNC"] = True
    assert reconcile_all() == 0  # backing off: the cron does not add a run of its own meanwhile
    assert Queue("default", connection=get_redis()).count == 0


def test_a_rate_limited_backfill_stays_importing_and_runs_again_after_the_reset(ada, sandbox, app, monkeypatch):
    app.config["RQ_ASYNC"] = True  # the Save only queues the backfill
    conn = ada()
    app.config["RQ_ASYNC"] = False
    Queue("bulk", connection=get_redis()).empty()
    monkeypatch.setattr(backfill, "RATE_LIMIT_WINDOW_SECONDS", 0)  # no waiting out the window in a test
    sandbox.faults(rate_limit_per_minute=1)
    assert backfill_connection(conn.id) is None
    after = CalendlyConnection.get_by_id(conn.id)
    assert after.status == Status.IMPORTING and after.last_error is None and after.backfilled_at is None
    later = runs_after_429("bulk", f"backfill-{conn.id}-after-429-")
    assert len(later) == 1 and 0 < later[0] <= 61
