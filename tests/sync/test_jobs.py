"""Backfill, reconciliation and scheduling jobs run in-process against the sandbox (W2, E5, C5, C7, S1).

``RQ_ASYNC=False`` makes the first Save run the backfill inline, so these
tests see every step without a worker. They use their own Redis database so
the session's worker (listening on database 0) never takes their jobs.
"""
from datetime import timedelta

import pytest
from rq import Queue

from jobs import scheduler
from jobs.sync import backfill_connection, reconcile_all, reconcile_connection, sweep_inbox
from portal.calendly.errors import TransientError
from portal.models import Appointment, CalendlyConnection, Status, Subaccount, SyncDecision
from portal.queues import get_redis
from portal.timeutil import to_iso, utcnow

from .helpers import connect_via_sandbox

pytestmark = [pytest.mark.slow, pytest.mark.portal_config(RQ_ASYNC=False, CALENDLY_RETRY_BACKOFF_SECONDS=0)]


@pytest.fixture
def ada(private_redis, app_ctx, sandbox, stack, people):
    class Env:
        pass

    env = Env()
    env.user = people.user("ada@acme.test")
    env.sub = Subaccount.get(name="Acme Dental")
    env.sandbox, env.stack = sandbox, stack
    sandbox.create_user("ada@cal.test")
    env.cleaning = sandbox.create_event_type("Cleaning", hosts=["ada@cal.test"])
    return env


def connect(env):
    return connect_via_sandbox(env.stack, env.user, env.sub, "ada@cal.test", ["Cleaning"])


def book(env, start_days, created_days_ago=None, email="grace@example.com"):
    now = utcnow()
    created = to_iso(now - timedelta(days=created_days_ago)) if created_days_ago is not None else None
    return env.sandbox.book(env.cleaning["uri"], to_iso(now + timedelta(days=start_days)), "Grace", email,
                            created_at=created)


def test_first_save_runs_the_backfill_with_progress(ada):
    made = [book(ada, 3, created_days_ago=30, email=f"p{i}@example.com") for i in range(3)]
    conn = connect(ada)
    assert (conn.status, conn.backfill_total, conn.backfill_done) == (Status.CONNECTED, 3, 3)
    assert Appointment.select().count() == 3
    assert {d.via for d in SyncDecision.select()} == {"backfill"}
    # Running it again (support "resync") changes nothing.
    backfill_connection(conn.id)
    assert Appointment.select().count() == 3 and SyncDecision.select().count() == 3
    assert {a.invitee_uri for a in Appointment.select()} == {m["invitee"] for m in made}


@pytest.mark.portal_config(RQ_ASYNC=False, BACKFILL_DAYS=0)
def test_zero_backfill_days_imports_only_bookings_made_after_connecting(ada):
    book(ada, 3, created_days_ago=1)
    conn = connect(ada)
    assert conn.status == Status.CONNECTED and Appointment.select().count() == 0
    assert SyncDecision.get().rule == "W2"


def test_backfill_transient_failure_shows_error_and_the_watchdog_restarts_it(ada, app):
    book(ada, 3, created_days_ago=5)
    app.config["RQ_ASYNC"] = True  # the Save only queues the backfill (no worker listens here)
    conn = connect(ada)
    app.config["RQ_ASYNC"] = False
    Queue("bulk", connection=get_redis()).empty()
    ada.sandbox.faults(api_error_rate=1)
    with pytest.raises(TransientError):
        backfill_connection(conn.id)  # Calendly answers 500 (after the client's retries)
    failed = CalendlyConnection.get_by_id(conn.id)
    assert failed.status == Status.ERROR and "Importing from Calendly failed" in failed.last_error
    assert failed.backfilled_at is None and Appointment.select().count() == 0
    ada.sandbox.clear_faults()
    reconcile_all()  # inline: reconciles and restarts the unfinished backfill
    done = CalendlyConnection.get_by_id(conn.id)
    assert (done.status, done.last_error) == (Status.CONNECTED, None) and done.backfilled_at is not None
    assert Appointment.select().count() == 1


def test_reconcile_failures_turn_to_error_after_three_and_clear_on_success(ada):
    conn = connect(ada)
    ada.sandbox.faults(api_error_rate=1)
    for attempt in range(1, 4):
        with pytest.raises(TransientError):
            reconcile_connection(conn.id)
        c = CalendlyConnection.get_by_id(conn.id)
        assert c.failure_count == attempt
        assert c.status == (Status.ERROR if attempt == 3 else Status.CONNECTED)
    assert "Reconciliation with Calendly failed" in c.last_error
    ada.sandbox.clear_faults()
    reconcile_connection(conn.id)
    c = CalendlyConnection.get_by_id(conn.id)
    assert (c.status, c.failure_count, c.last_error) == (Status.CONNECTED, 0, None)


def test_reconcile_all_enqueues_each_connection_once(ada, app):
    conn = connect(ada)
    app.config["RQ_ASYNC"] = True
    try:
        assert reconcile_all() == 1
        assert reconcile_all() == 0  # reconcile-<id> is still queued
        queue = Queue("default", connection=get_redis())
        assert queue.get_job_ids() == [f"reconcile-{conn.id}"]
        CalendlyConnection.update(status=Status.RECONNECT_NEEDED).execute()
        queue.empty()
        assert reconcile_all() == 0  # a connection that needs its owner is left alone
    finally:
        app.config["RQ_ASYNC"] = False


def test_scheduler_registers_every_periodic_job(private_redis, app_ctx):
    app = app_ctx
    cron = scheduler.build(app, get_redis())
    jobs = {j.func_name: (j.queue_name, j.interval) for j in cron.get_jobs()}
    assert jobs == {
        "jobs.sync.reconcile_all": ("default", app.config["RECONCILE_INTERVAL_SECONDS"]),
        "jobs.sync.sweep_inbox": ("sync", scheduler.SWEEP_INTERVAL_SECONDS),
        "jobs.sync.prune_inbox": ("bulk", 3600),
        "jobs.mail.sweep_outbox": ("default", scheduler.MAIL_SWEEP_INTERVAL_SECONDS),
        "jobs.mail.sweep_connection_alerts": ("default", scheduler.MAIL_SWEEP_INTERVAL_SECONDS),
        "jobs.automation.resume_workflows": ("default", scheduler.SWEEP_INTERVAL_SECONDS),
    }
    cron.enqueue_jobs()
    assert Queue("default", connection=get_redis()).count == 4
    assert Queue("sync", connection=get_redis()).count == 1
    assert Queue("bulk", connection=get_redis()).count == 1
    assert sweep_inbox() == 0


def test_backfill_and_reconciliation_keep_the_meeting_link_and_host_as_webhooks_do(ada):
    """Issue 16 item 7: the same meeting details whichever path imports the booking."""
    from portal.sync.meeting import decode_hosts

    earlier = book(ada, 3, created_days_ago=5, email="early@example.com")  # the backfill imports it
    conn = connect(ada)
    ada.sandbox.faults(webhook_drop_rate=1)  # Calendly's webhook for the next booking never arrives
    later = book(ada, 4, email="late@example.com")  # so only reconciliation can find it
    reconcile_connection(conn.id)
    for made, via in ((earlier, "backfill"), (later, "reconcile")):
        a = Appointment.get(Appointment.invitee_uri == made["invitee"])
        assert SyncDecision.get(SyncDecision.invitee_uri == made["invitee"]).via == via
        event_uuid = made["event"].rsplit("/", 1)[1]
        assert (a.location_kind, a.join_url) == ("google_conference", f"{ada.stack['sandbox_url']}/meet/{event_uuid}")
        assert decode_hosts(a.calendly_hosts) == [{"name": "Ada", "email": "ada@cal.test"}]
