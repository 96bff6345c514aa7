"""Reconciliation reads invitees only of events new or changed since its last run (issue 12, item 7).

Counted from the sandbox's own request log, as Calendly would count them. A
forgotten or stale memory may only cost calls: the bookings still arrive.
"""
import re
import uuid
from datetime import timedelta

import pytest
import requests

from benchmarks.backfill import API_PREFIXES, REQUEST_LINE
from jobs.sync import reconcile_connection
from portal.pipeline import event_memory
from portal.models import Appointment, Outcome, Subaccount, SyncDecision
from portal.queues import get_redis
from portal.timeutil import to_iso, utcnow

from .helpers import connect_via_sandbox, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.portal_config(RQ_ASYNC=False, CALENDLY_RETRY_BACKOFF_SECONDS=0)]
INVITEES = re.compile(r"^/scheduled_events/([^/?]+)/invitees")


@pytest.fixture
def ada(private_redis, app_ctx, sandbox, stack, people):
    sandbox.create_user("ada@cal.test")
    cleaning = sandbox.create_event_type("Cleaning", hosts=["ada@cal.test"])
    now = utcnow()
    # Made 2 days ago (history: no webhook), upcoming.
    booked = [sandbox.book(cleaning["uri"], to_iso(now + timedelta(days=1 + n)), f"Guest {n}", f"g{n}@example.com",
                           created_at=to_iso(now - timedelta(days=2))) for n in range(5)]
    user = people.user("ada@acme.test")
    conn = connect_via_sandbox(stack, user, Subaccount.get(name="Acme Dental"), "ada@cal.test", ["Cleaning"])
    assert Appointment.select().count() == 5  # the backfill
    return conn, booked


def calendly_calls(stack, run):
    """``run()``, then the Calendly API calls the sandbox logged meanwhile, as ``(method, path)``."""
    log = stack["base"] / "sandbox.log"
    offset = log.stat().st_size
    run()
    mark = f"/_sandbox/health?mark={uuid.uuid4().hex}"
    requests.get(stack["sandbox_url"] + mark, timeout=5)
    text = wait_for(lambda: mark in log.read_text()[offset:] and log.read_text()[offset:], timeout=10,
                    message="the sandbox to log the requests")
    calls = []
    for line in text[:text.index(mark)].splitlines():
        match = REQUEST_LINE.search(line)
        if match and match.group(2).startswith(API_PREFIXES):
            calls.append((match.group(1), match.group(2)))
    return calls


def invitee_reads(calls):
    return [INVITEES.match(path).group(1) for _, path in calls if INVITEES.match(path)]


def test_a_quiet_connection_reads_no_invitees_after_its_first_reconciliation(ada, stack):
    conn, _ = ada
    first = calendly_calls(stack, lambda: reconcile_connection(conn.id))
    assert len(invitee_reads(first)) == 5  # nothing remembered yet: every event is read once
    quiet = calendly_calls(stack, lambda: reconcile_connection(conn.id))
    # The plan, one page of events, the webhook (the event types were read by the first run, issue 17).
    assert invitee_reads(quiet) == [] and len(quiet) <= 3, quiet


def event_type_reads(calls):
    return [path for _, path in calls if path.startswith("/event_types")]


def test_event_types_are_re_read_hourly_while_their_webhooks_come_and_each_run_when_they_cannot(ada, stack):
    conn, _ = ada
    assert event_type_reads(calendly_calls(stack, lambda: reconcile_connection(conn.id)))  # the first run
    assert event_type_reads(calendly_calls(stack, lambda: reconcile_connection(conn.id))) == []  # within the hour
    get_redis().delete(f"calbridge:reconcile:event-types:{conn.id}")  # the hour has passed
    assert event_type_reads(calendly_calls(stack, lambda: reconcile_connection(conn.id)))
    conn.__class__.update(webhook_state="disabled").where(conn.__class__.id == conn.id).execute()
    # No event_type.* delivery can come while the subscription is not active: this run reads them again.
    assert event_type_reads(calendly_calls(stack, lambda: reconcile_connection(conn.id)))


def test_a_changed_event_is_read_again_and_its_cancellation_applied(ada, stack, sandbox):
    conn, booked = ada
    reconcile_connection(conn.id)
    sandbox.cancel(booked[2]["invitee"])
    calls = calendly_calls(stack, lambda: reconcile_connection(conn.id))
    assert invitee_reads(calls) == [booked[2]["event"].rsplit("/", 1)[1]]
    last = SyncDecision.select().where(SyncDecision.invitee_uri == booked[2]["invitee"]).order_by(
        SyncDecision.id.desc()).first()
    # Applied by this run, or by the cancellation's webhook when a portal is serving this stack.
    assert last.outcome in (Outcome.UPDATED, Outcome.UNCHANGED)


def test_a_lost_memory_costs_calls_and_a_lost_database_gets_its_bookings_back(ada, stack):
    conn, booked = ada
    reconcile_connection(conn.id)
    get_redis().delete(event_memory.key(conn.id))  # Redis flushed
    assert len(invitee_reads(calendly_calls(stack, lambda: reconcile_connection(conn.id)))) == 5

    # The portal's database restored from before these bookings: the memory must not hide them.
    SyncDecision.delete().execute()
    Appointment.delete().execute()
    assert len(invitee_reads(calendly_calls(stack, lambda: reconcile_connection(conn.id)))) == 5
    assert {a.invitee_uri for a in Appointment.select()} == {b["invitee"] for b in booked}


def test_changing_what_the_import_depends_on_reads_every_event_again(ada, stack):
    conn, _ = ada
    reconcile_connection(conn.id)
    Subaccount.update(reflect_cancellations=~Subaccount.reflect_cancellations).execute()  # E4 toggled
    assert len(invitee_reads(calendly_calls(stack, lambda: reconcile_connection(conn.id)))) == 5
