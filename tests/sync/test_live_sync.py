"""The whole sync against the Calendly sandbox: real OAuth, webhooks, RQ worker (SPEC W, E, O, C5, C6).

Bookings are made in the sandbox; its signed webhooks reach the portal over
HTTP (``live_server``); the session's RQ worker applies them. Reconciliation
and backfill runs that a test drives itself are called in-process.
"""
import json
import time
from datetime import timedelta

import pytest
import requests
from rq import Queue

from jobs.sync import reconcile_all, reconcile_connection
from portal.calendly import signatures
from portal.calendly.client import CalendlyClient
from portal.models import (
    Appointment,
    AppointmentSource,
    CalendarSelection,
    CalendlyConnection,
    Contact,
    DeliveryState,
    SkipReason,
    Status,
    Subaccount,
    SyncDecision,
    WebhookDelivery,
)
from portal.queues import get_redis
from portal.sync.deletion import DELETE, KEEP, close_selection
from portal.timeutil import to_iso, utcnow

from .helpers import connect_via_sandbox, wait_for

pytestmark = pytest.mark.slow


def iso(dt):
    return to_iso(dt)


def soon(days=2, hour=10):
    return (utcnow() + timedelta(days=days)).replace(hour=hour, minute=0, second=0, microsecond=0)


@pytest.fixture
def live(app_ctx, live_server, sandbox, worker, stack, people):
    """A subaccount with Ada, whose Calendly account has Cleaning (selected later) and Whitening."""
    class Live:
        pass

    env = Live()
    env.stack, env.sandbox, env.people = stack, sandbox, people
    env.ada = people.user("ada@acme.test", name="Ada Admin")
    env.sub = Subaccount.get(name="Acme Dental")
    created = sandbox.create_user("ada@cal.test", name="Ada Calendly")
    env.ada_cal = created["user"]
    env.org_uri = created["organization"]["uri"]
    env.cleaning = sandbox.create_event_type("Cleaning", hosts=["ada@cal.test"])
    env.whitening = sandbox.create_event_type("Whitening", hosts=["ada@cal.test"])
    return env


def connect(env, user, email, calendars):
    connection = connect_via_sandbox(env.stack, user, env.sub, email, calendars)
    return wait_for(lambda: _status(connection.id, Status.CONNECTED), timeout=15, message="backfill to finish")


def _status(connection_id, status):
    c = CalendlyConnection.get_by_id(connection_id)
    return c if c.status == status else None


def appointment_for(invitee_uri, timeout=5.0):
    return wait_for(lambda: Appointment.get_or_none(Appointment.invitee_uri == invitee_uri), timeout=timeout,
                    message=f"appointment for {invitee_uri}")


def decision_for(invitee_uri, timeout=5.0):
    return wait_for(lambda: SyncDecision.select().where(SyncDecision.invitee_uri == invitee_uri)
                    .order_by(SyncDecision.id.desc()).first(), timeout=timeout, message="a sync decision")


def test_booking_appears_within_seconds_with_a_name_and_email_contact(live):
    conn = connect(live, live.ada, "ada@cal.test", ["Cleaning"])
    assert conn.backfill_total == conn.backfill_done == 0 and conn.webhook_state == "active"

    booked = live.sandbox.book(live.cleaning["uri"], iso(soon()), "Grace Hopper", "Grace@Example.com",
                               guests=["bob@example.com"], qa=[{"question": "Phone", "answer": "+1 404 555 1234",
                                                                 "position": 0}])
    # Brought by the webhook (how fast is measured by ``make bench``; reconciliation is minutes away).
    appt = appointment_for(booked["invitee"], timeout=20)

    assert (appt.title, appt.source, appt.calendar_name, appt.event_uri) == (
        "Cleaning", "calendly", "Cleaning", booked["event"])
    assert appt.owner_id == live.ada.id and appt.start == soon()
    contact = appt.contact
    assert (contact.name, contact.email_normalized, contact.assigned_user_id) == (
        "Grace Hopper", "grace@example.com", live.ada.id)
    assert [g.contact.email_normalized for g in appt.guests] == ["bob@example.com"]
    # Phone numbers and answers are kept nowhere, the inbox copy included.
    delivery = WebhookDelivery.get(WebhookDelivery.invitee_uri == booked["invitee"])
    assert delivery.state == DeliveryState.APPLIED
    kept = json.dumps([[c.name, c.email] for c in Contact.select()]
                      + [appt.title, appt.notes, appt.owner_reason, delivery.body, delivery.headers])
    # "555 1234", not "555": a port or a timestamp's microseconds may hold 555.
    assert "555 1234" not in kept and "Phone" not in kept


def test_same_email_in_another_case_reuses_the_contact_and_moves_the_assigned_user(live):
    bob = live.people.user("bob@acme.test", name="Bob Dentist")
    live.sandbox.create_user("bob@cal.test", organization=live.org_uri)
    checkup = live.sandbox.create_event_type("Checkup", hosts=["bob@cal.test"])
    connect(live, live.ada, "ada@cal.test", ["Cleaning"])
    connect(live, bob, "bob@cal.test", ["Checkup"])

    first = live.sandbox.book(live.cleaning["uri"], iso(soon(3)), "Grace Hopper", "grace@example.com")
    assert appointment_for(first["invitee"]).contact.assigned_user_id == live.ada.id
    second = live.sandbox.book(checkup["uri"], iso(soon(1)), "Grace H.", "  GRACE@example.COM")
    appt = appointment_for(second["invitee"])
    assert Contact.select().count() == 1
    contact = Contact.get()
    assert appt.contact_id == contact.id and appt.owner_id == bob.id
    assert contact.assigned_user_id == bob.id and contact.name == "Grace Hopper"


def test_unselected_calendar_is_not_imported_and_the_trace_says_why(live):
    conn = connect(live, live.ada, "ada@cal.test", ["Cleaning"])
    booked = live.sandbox.book(live.whitening["uri"], iso(soon()), "Grace", "grace@example.com")
    decision = decision_for(booked["invitee"])
    assert (decision.reason, decision.detail, decision.connection_id) == (
        SkipReason.NOT_SELECTED, "W1: calendar not selected", conn.id)
    assert Appointment.select().count() == 0


def test_bookings_made_while_deselected_are_never_imported(live):
    conn = connect(live, live.ada, "ada@cal.test", ["Cleaning"])
    close_selection(conn, live.cleaning["uri"], KEEP)
    made_while_off = live.sandbox.book(live.cleaning["uri"], iso(soon(2)), "Grace", "grace@example.com")
    assert decision_for(made_while_off["invitee"]).reason == SkipReason.NOT_SELECTED
    _reselect(conn, live.cleaning)
    reconcile_connection(conn.id)
    decision = SyncDecision.select().where(SyncDecision.invitee_uri == made_while_off["invitee"]).order_by(
        SyncDecision.id.desc()).first()
    assert decision.detail == "W4: created while calendar deselected"
    after = live.sandbox.book(live.cleaning["uri"], iso(soon(3)), "Alan", "alan@example.com")
    appointment_for(after["invitee"])
    assert Appointment.select().count() == 1


def sandbox_attempt(env, booked, flag=None):
    """Wait until Calendly (the sandbox) has dealt with the booking's webhook; returns its delivery log entry."""
    def attempt():
        return next((d for d in env.sandbox.deliveries()
                     if d["invitee"] == booked["invitee"] and (flag is None or d[flag])), None)
    return wait_for(attempt, message="the sandbox's attempt to deliver the booking's webhook")


def _reselect(conn, event_type, shared=False):
    time.sleep(0.01)  # a period starts strictly after the previous one ended
    return CalendarSelection.create(connection=conn, event_type_uri=event_type["uri"], name=event_type["name"],
                                    shared=shared, selected_from=utcnow())


def test_backfill_imports_upcoming_and_last_180_days_only(live):
    now = utcnow()
    et = live.cleaning["uri"]
    cases = {
        # name: (created days ago, start days from now, imported?)
        "recent past": (100, -90, True),
        "created in window, started before it": (100, -150, True),
        "too old": (200, -170, False),
        "old but upcoming": (300, 5, True),
    }
    invitees = {}
    for n, (name, (created, start, _)) in enumerate(cases.items()):
        made = live.sandbox.book(et, iso(now + timedelta(days=start, hours=n)), name.title(), f"p{n}@example.com",
                                 created_at=iso(now - timedelta(days=created)))
        invitees[name] = made["invitee"]
    conn = connect(live, live.ada, "ada@cal.test", ["Cleaning"])
    assert (conn.backfill_total, conn.backfill_done) == (4, 4) and conn.backfilled_at is not None
    for name, (_, _, imported) in cases.items():
        appt = Appointment.get_or_none(Appointment.invitee_uri == invitees[name])
        assert (appt is not None) is imported, name
    too_old = SyncDecision.get(SyncDecision.invitee_uri == invitees["too old"])
    assert (too_old.via, too_old.reason, too_old.rule) == ("backfill", SkipReason.OUTSIDE_WINDOW, "W2")
    booked_at = Appointment.get(Appointment.invitee_uri == invitees["recent past"]).booked_at
    assert abs(booked_at - (now - timedelta(days=100))) < timedelta(seconds=1)


@pytest.mark.parametrize("answer,restored", [(KEEP, True), (DELETE, False)])
def test_reselect_after_keep_restores_coverage_after_delete_does_not(live, answer, restored):
    conn = connect(live, live.ada, "ada@cal.test", ["Cleaning"])
    live.sandbox.faults(webhook_drop_rate=1)
    missed = live.sandbox.book(live.cleaning["uri"], iso(soon(2)), "Grace", "grace@example.com")
    close_selection(conn, live.cleaning["uri"], answer)
    _reselect(conn, live.cleaning)
    reconcile_connection(conn.id)
    appt = Appointment.get_or_none(Appointment.invitee_uri == missed["invitee"])
    assert (appt is not None) is restored
    if not restored:
        decision = SyncDecision.get(SyncDecision.invitee_uri == missed["invitee"])
        assert decision.rule == "W4" and decision.via == "reconcile"


def test_calendar_added_later_imports_nothing_from_before(live):
    past = live.sandbox.book(live.whitening["uri"], iso(soon(4)), "Early", "early@example.com",
                             created_at=iso(utcnow() - timedelta(days=3)))
    conn = connect(live, live.ada, "ada@cal.test", ["Cleaning"])
    before_added = live.sandbox.book(live.whitening["uri"], iso(soon(5)), "Before", "before@example.com")
    decision_for(before_added["invitee"])
    _reselect(conn, live.whitening)  # Edit: add Whitening (no backfill)
    reconcile_connection(conn.id)
    assert Appointment.select().count() == 0
    assert {d.rule for d in SyncDecision.select().where(SyncDecision.invitee_uri.in_(
        [past["invitee"], before_added["invitee"]]) & (SyncDecision.via == "reconcile"))} == {"W3"}
    after = live.sandbox.book(live.whitening["uri"], iso(soon(6)), "After", "after@example.com")
    assert appointment_for(after["invitee"]).calendar_name == "Whitening"


@pytest.mark.parametrize("pooling", ["collective", "round_robin"])
def test_shared_calendar_connected_by_two_members_is_one_appointment(live, pooling):
    bob = live.people.user("bob@acme.test", name="Bob Dentist")
    live.sandbox.create_user("bob@cal.test", organization=live.org_uri)
    team = live.sandbox.create_event_type("Team intro", hosts=["ada@cal.test", "bob@cal.test"], pooling_type=pooling)
    conn_a = connect(live, live.ada, "ada@cal.test", ["Team intro"])
    conn_b = connect(live, bob, "bob@cal.test", ["Team intro"])
    assert CalendarSelection.get(CalendarSelection.connection == conn_a).shared

    booked = live.sandbox.book(team["uri"], iso(soon()), "Grace", "grace@example.com")
    appt = appointment_for(booked["invitee"])
    if pooling == "collective":  # both hosts are on the meeting: both connections deliver it
        wait_for(lambda: AppointmentSource.select().where(AppointmentSource.appointment == appt).count() == 2,
                 message="the second source")
    for conn in (conn_a, conn_b):
        reconcile_connection(conn.id)
    appt = Appointment.get_by_id(appt.id)
    assert Appointment.select().count() == 1
    assert appt.owner_id in (live.ada.id, bob.id)
    assert appt.owner_reason == "O2: round robin, chosen among 2 members"
    sources = {s.connection_id for s in appt.sources}
    if pooling == "collective":
        assert sources == {conn_a.id, conn_b.id}
    else:  # only the host Calendly assigned sees a round-robin meeting
        assert len(sources) == 1 and sources <= {conn_a.id, conn_b.id}


def test_redelivered_webhooks_and_reconciliation_replays_make_one_appointment(live, stack):
    conn = connect(live, live.ada, "ada@cal.test", ["Cleaning"])
    booked = live.sandbox.book(live.cleaning["uri"], iso(soon()), "Grace", "grace@example.com")
    appointment_for(booked["invitee"])
    # The same booking delivered again, as Calendly would send it, three times (retries of one delivery).
    client = CalendlyClient(conn)
    invitee = client.get_invitee(booked["invitee"])
    payload = {**invitee, "scheduled_event": client.get_event(booked["event"])}
    raw = json.dumps({"event": "invitee.created", "created_at": iso(utcnow()), "payload": payload}).encode()
    url = f"{stack['portal_url']}/webhooks/calendly/{conn.webhook_token}"
    for n in range(3):
        header = signatures.sign(conn.signing_key, raw, t=time.time() + n)
        resp = requests.post(url, data=raw, timeout=5,
                             headers={"Content-Type": "application/json", signatures.HEADER: header})
        assert resp.status_code == 200
    wait_for(lambda: WebhookDelivery.select().where(WebhookDelivery.state == DeliveryState.APPLIED).count() == 2,
             message="the redelivery to be applied")
    for _ in range(2):
        reconcile_connection(conn.id)
    assert Appointment.select().count() == 1 and AppointmentSource.select().count() == 1
    states = [d.state for d in WebhookDelivery.select().order_by(WebhookDelivery.id)]
    assert states == [DeliveryState.APPLIED, DeliveryState.APPLIED, DeliveryState.DUPLICATE, DeliveryState.DUPLICATE]
    decisions = [(d.via, d.outcome, d.reason) for d in SyncDecision.select().order_by(SyncDecision.id)]
    assert decisions == [("webhook", "imported", None), ("webhook", "skipped", SkipReason.DUPLICATE)]
    assert CalendlyConnection.get_by_id(conn.id).last_reconciled_at is not None


def test_lost_webhooks_are_imported_by_the_scheduled_reconciliation(live):
    conn = connect(live, live.ada, "ada@cal.test", ["Cleaning"])
    live.sandbox.faults(webhook_drop_rate=1)
    booked = live.sandbox.book(live.cleaning["uri"], iso(soon()), "Grace", "grace@example.com")
    sandbox_attempt(live, booked, "dropped")
    assert Appointment.select().count() == 0
    assert reconcile_all() == 1  # enqueues reconcile-<id> for the worker
    assert Queue("default", connection=get_redis()).fetch_job(f"reconcile-{conn.id}") is not None
    appt = appointment_for(booked["invitee"], timeout=10)
    assert SyncDecision.get(SyncDecision.invitee_uri == booked["invitee"]).via == "reconcile"
    assert appt.contact.email_normalized == "grace@example.com"


@pytest.mark.parametrize("plan,stage,named", [("professional", "free", "free tier"), ("basic", "paid", "Free plan")])
def test_lapsed_trial_stops_syncing_and_an_upgrade_resumes_it(live, plan, stage, named):
    live.sandbox.update_user(live.ada_cal["uri"], plan="teams", stage="trial")
    conn = connect(live, live.ada, "ada@cal.test", ["Cleaning"])
    live.sandbox.update_user(live.ada_cal["uri"], plan=plan, stage=stage)
    reconcile_connection(conn.id)
    lapsed = CalendlyConnection.get_by_id(conn.id)
    assert lapsed.status == Status.PLAN_NOT_SUPPORTED and named in lapsed.last_error

    during = live.sandbox.book(live.cleaning["uri"], iso(soon()), "Grace", "grace@example.com")
    assert sandbox_attempt(live, during)["skipped"] == "plan"  # Calendly sends nothing for a lapsed plan
    assert Appointment.select().count() == 0
    reconcile_connection(conn.id)  # still lapsed: re-checked, nothing imported
    assert CalendlyConnection.get_by_id(conn.id).status == Status.PLAN_NOT_SUPPORTED
    assert Appointment.select().count() == 0

    live.sandbox.update_user(live.ada_cal["uri"], plan="teams", stage="paid")
    reconcile_connection(conn.id)
    resumed = CalendlyConnection.get_by_id(conn.id)
    assert (resumed.status, resumed.last_error, resumed.plan) == (Status.CONNECTED, None, "teams")
    assert Appointment.get(Appointment.invitee_uri == during["invitee"])  # missed while lapsed, imported now
    after = live.sandbox.book(live.cleaning["uri"], iso(soon(3)), "Alan", "alan@example.com")
    appointment_for(after["invitee"])


def test_revoked_access_turns_the_connection_to_reconnect_needed(live, stack):
    conn = connect(live, live.ada, "ada@cal.test", ["Cleaning"])
    for token in (conn.refresh_token, conn.access_token):
        requests.post(stack["sandbox_url"] + "/oauth/revoke", timeout=5, data={
            "client_id": stack["creds"]["client_id"], "client_secret": stack["creds"]["client_secret"],
            "token": token}).raise_for_status()
    reconcile_connection(conn.id)
    c = CalendlyConnection.get_by_id(conn.id)
    assert c.status == Status.RECONNECT_NEEDED and c.last_error


def test_disabled_webhook_subscription_is_recreated_and_what_it_missed_imported(live):
    conn = connect(live, live.ada, "ada@cal.test", ["Cleaning"])
    key = conn.signing_key
    CalendlyConnection.update(signing_key="rotated-away").where(CalendlyConnection.id == conn.id).execute()
    missed = live.sandbox.book(live.cleaning["uri"], iso(soon()), "Grace", "grace@example.com")
    wait_for(lambda: [s for s in live.sandbox.subscriptions() if s["state"] == "disabled"], timeout=15,
             message="Calendly to disable the failing subscription")
    assert {d.state for d in WebhookDelivery.select()} == {DeliveryState.REJECTED}  # refused: 401
    CalendlyConnection.update(signing_key=key).where(CalendlyConnection.id == conn.id).execute()
    reconcile_connection(conn.id)
    c = CalendlyConnection.get_by_id(conn.id)
    assert c.webhook_subscription_uri != conn.webhook_subscription_uri and c.webhook_state == "active"
    assert Appointment.get(Appointment.invitee_uri == missed["invitee"])
    booked = live.sandbox.book(live.cleaning["uri"], iso(soon(3)), "Alan", "alan@example.com")
    appointment_for(booked["invitee"])


def test_a_failed_replacement_leaves_the_disabled_subscription_in_place(live):
    """C7 safe replace: the new subscription is created before the old one is deleted."""
    from portal.calendly import subscriptions
    from portal.calendly.errors import PlanNotSupported

    conn = connect(live, live.ada, "ada@cal.test", ["Cleaning"])
    key = conn.signing_key
    CalendlyConnection.update(signing_key="rotated-away").where(CalendlyConnection.id == conn.id).execute()
    live.sandbox.book(live.cleaning["uri"], iso(soon()), "Grace", "grace@example.com")
    wait_for(lambda: [s for s in live.sandbox.subscriptions() if s["state"] == "disabled"], timeout=15,
             message="Calendly to disable the failing subscription")
    CalendlyConnection.update(signing_key=key).where(CalendlyConnection.id == conn.id).execute()
    live.sandbox.update_user(conn.calendly_user_uri, plan="basic", stage="free")  # Calendly refuses a new one
    with pytest.raises(PlanNotSupported):
        subscriptions.ensure_webhook(CalendlyConnection.get_by_id(conn.id))
    kept = [s for s in live.sandbox.subscriptions() if not s["deleted"]]
    assert [s["uri"] for s in kept] == [conn.webhook_subscription_uri] and kept[0]["state"] == "disabled"
    assert CalendlyConnection.get_by_id(conn.id).webhook_subscription_uri == conn.webhook_subscription_uri


def test_deleted_webhook_subscription_is_recreated(live):
    conn = connect(live, live.ada, "ada@cal.test", ["Cleaning"])
    old_uri = conn.webhook_subscription_uri
    CalendlyClient(conn).delete_webhook_subscription(old_uri)  # gone at Calendly
    reconcile_connection(conn.id)
    c = CalendlyConnection.get_by_id(conn.id)
    assert c.webhook_subscription_uri != old_uri and c.webhook_state == "active"
    booked = live.sandbox.book(live.cleaning["uri"], iso(soon()), "Grace", "grace@example.com")
    appointment_for(booked["invitee"])


@pytest.mark.parametrize("reflect", [False, True])
def test_cancel_and_reschedule_in_calendly(live, reflect):
    Subaccount.update(reflect_cancellations=reflect).where(Subaccount.id == live.sub.id).execute()
    connect(live, live.ada, "ada@cal.test", ["Cleaning"])
    first = live.sandbox.book(live.cleaning["uri"], iso(soon(2)), "Grace", "grace@example.com")
    second = live.sandbox.book(live.cleaning["uri"], iso(soon(3)), "Alan", "alan@example.com")
    appointment_for(first["invitee"]), appointment_for(second["invitee"])

    live.sandbox.cancel(second["invitee"])
    moved = live.sandbox.reschedule(first["invitee"], iso(soon(4)))
    replacement = appointment_for(moved["invitee"])
    wait_for(lambda: SyncDecision.select().where(SyncDecision.rule == "E4").count() == 2,
             message="both cancellations to be applied")
    old, canceled = (Appointment.get(Appointment.invitee_uri == first["invitee"]),
                     Appointment.get(Appointment.invitee_uri == second["invitee"]))
    assert replacement.start == soon(4) and replacement.status == "booked"
    if reflect:
        assert (old.status, old.rescheduled_to_id) == ("rescheduled", replacement.id)
        assert canceled.status == "cancelled" and canceled.cancelled_at is not None
    else:  # as in the seeds: Calendly's changes do not touch existing appointments (E4)
        assert (old.status, old.rescheduled_to_id, canceled.status) == ("booked", None, "booked")
    assert Appointment.select().count() == 3 and Contact.select().count() == 2
