"""The one write path (SPEC E1, E2, E4, O1-O3, W6), on the database without HTTP."""
import random
import threading
from datetime import timedelta

import pytest

from portal.extensions import db
from portal.models import (
    Appointment,
    AppointmentGuest,
    AppointmentSource,
    AppointmentStatus,
    Contact,
    Outcome,
    SkipReason,
    Status,
    Subaccount,
    SyncDecision,
)
from portal.sync import ownership
from portal.sync.apply import BACKFILL, RECONCILE, WEBHOOK, apply_booking
from portal.timeutil import utcnow
from .helpers import ada_connected, booking, make_connection, select

ET = "https://api.calendly.com/event_types/CLEANING"
RR = "https://api.calendly.com/event_types/ROUND-ROBIN"


@pytest.fixture
def acme(app_ctx, people):
    return ada_connected(people, ET, "Cleaning")


def test_booking_becomes_appointment_and_contact_with_name_and_email_only(acme):
    sub, ada, conn = acme
    b = booking(ET, email="  Grace@Example.COM ", name="Grace Hopper", guest_emails=("bob@example.com",))
    result = apply_booking(conn, b, WEBHOOK)
    assert result.outcome == Outcome.IMPORTED and result.rule == "W2"

    appt = Appointment.get(Appointment.subaccount == sub)
    assert (appt.title, appt.start, appt.end, appt.source) == (b.title, b.start, b.end, "calendly")
    assert (appt.calendar_name, appt.invitee_uri, appt.event_uri, appt.event_type_uri) == (
        "Cleaning", b.invitee_uri, b.event_uri, ET)
    assert appt.booked_at == b.created_at
    assert appt.owner_id == ada.id and appt.owner_reason.startswith("O1: personal calendar")
    assert appt.status == AppointmentStatus.BOOKED and appt.notes == ""
    contact = appt.contact
    assert (contact.email, contact.email_normalized, contact.name) == ("Grace@Example.COM", "grace@example.com",
                                                                       "Grace Hopper")
    assert contact.assigned_user_id == ada.id
    guest = AppointmentGuest.get(AppointmentGuest.appointment == appt).contact
    assert (guest.email_normalized, guest.name) == ("bob@example.com", "")
    assert [s.connection_id for s in appt.sources] == [conn.id]
    decision = SyncDecision.get()
    assert (decision.outcome, decision.via, decision.invitee_email) == ("imported", "webhook", "grace@example.com")


def test_same_booking_three_times_is_one_appointment(acme):
    sub, _, conn = acme
    b = booking(ET)
    outcomes = [apply_booking(conn, b, via).outcome for via in (WEBHOOK, WEBHOOK, RECONCILE)]
    assert outcomes == [Outcome.IMPORTED, Outcome.SKIPPED, Outcome.SKIPPED]
    assert Appointment.select().count() == 1 and Contact.select().count() == 1
    assert AppointmentSource.select().count() == 1
    # The webhook retry is traced as a duplicate; the reconciliation that merely saw it again is not.
    assert [(d.outcome, d.reason) for d in SyncDecision.select().order_by(SyncDecision.id)] == [
        ("imported", None), ("skipped", SkipReason.DUPLICATE)]


def test_two_connections_in_one_subaccount_one_appointment_two_sources(acme, people):
    sub, ada, conn = acme
    bob = people.user("bob@acme.test")
    conn_b = make_connection(bob, sub)
    select(conn_b, ET, "Cleaning")
    b = booking(ET)
    apply_booking(conn, b, WEBHOOK)
    second = apply_booking(conn_b, b, WEBHOOK)
    assert second.outcome == Outcome.SKIPPED and second.reason == SkipReason.DUPLICATE
    assert "added as a source" in second.detail and "Ada" in second.detail
    assert Appointment.select().count() == 1
    assert {s.connection_id for s in AppointmentSource.select()} == {conn.id, conn_b.id}
    assert Appointment.get().owner_id == ada.id  # the first import's owner is kept


def test_same_booking_in_two_subaccounts_is_two_appointments(acme, people):
    sub, ada, conn = acme
    people.user("ada@acme.test", subaccount="Beta Clinic")
    beta = Subaccount.get(name="Beta Clinic")
    conn_beta = make_connection(ada, beta)
    select(conn_beta, ET, "Cleaning")
    b = booking(ET)
    assert apply_booking(conn, b, WEBHOOK).outcome == Outcome.IMPORTED
    assert apply_booking(conn_beta, b, WEBHOOK).outcome == Outcome.IMPORTED
    assert Appointment.select().count() == 2
    assert Contact.select().where(Contact.email_normalized == "ada@example.com").count() == 2


def test_concurrent_applies_of_one_booking_import_it_once(acme, people, app):
    sub, ada, conn = acme
    bob = people.user("bob@acme.test")
    conn_b = make_connection(bob, sub)
    select(conn_b, ET, "Cleaning")
    b = booking(ET)
    barrier = threading.Barrier(4)
    errors = []

    def worker(connection_id):
        try:
            with app.app_context(), db.connection_context():
                from portal.models import CalendlyConnection
                c = CalendlyConnection.get_by_id(connection_id)
                barrier.wait()
                apply_booking(c, b, WEBHOOK)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    db.close()
    threads = [threading.Thread(target=worker, args=(cid,)) for cid in (conn.id, conn_b.id, conn.id, conn_b.id)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    db.connect(reuse_if_open=True)
    assert errors == []
    assert Appointment.select().count() == 1
    assert AppointmentSource.select().count() == 2
    assert SyncDecision.select().where(SyncDecision.outcome == Outcome.IMPORTED).count() == 1


def test_unselected_calendar_and_window_skips_are_recorded_with_reasons(acme):
    sub, _, conn = acme
    other = apply_booking(conn, booking("https://api.calendly.com/event_types/OTHER", invitee="I2"), WEBHOOK)
    assert (other.outcome, other.reason, other.detail) == ("skipped", SkipReason.NOT_SELECTED,
                                                           "W1: calendar not selected")
    old = booking(ET, invitee="I3", created_at=conn.connected_at - timedelta(days=400),
                  start=conn.connected_at - timedelta(days=390))
    assert apply_booking(conn, old, BACKFILL).reason == SkipReason.OUTSIDE_WINDOW
    assert Appointment.select().count() == 0
    assert SyncDecision.select().count() == 2


@pytest.mark.parametrize("status,reason", [
    (Status.PLAN_NOT_SUPPORTED, SkipReason.PLAN),
    (Status.RECONNECT_NEEDED, SkipReason.DISCONNECTED),
    (Status.DISCONNECTED, SkipReason.DISCONNECTED),
])
def test_connection_not_syncing_imports_nothing(acme, status, reason):
    _, _, conn = acme
    conn.status = status
    result = apply_booking(conn, booking(ET), WEBHOOK)
    assert (result.outcome, result.reason) == (Outcome.SKIPPED, reason)
    assert Appointment.select().count() == 0


def test_backfill_and_reconcile_record_a_repeated_skip_once(acme):
    _, _, conn = acme
    b = booking("https://api.calendly.com/event_types/OTHER")
    for _ in range(3):
        apply_booking(conn, b, RECONCILE)
    assert SyncDecision.select().count() == 1


# ---------------------------------------------------------------- contacts (E2) and O3
def test_second_booking_same_email_other_case_reuses_contact_and_moves_assigned_user(acme, people):
    sub, ada, conn = acme
    bob = people.user("bob@acme.test")
    conn_b = make_connection(bob, sub)
    select(conn_b, "https://api.calendly.com/event_types/BOB", "Bob's checkup")
    first = booking(ET, invitee="I1", email="grace@example.com", created_at=utcnow() - timedelta(hours=2))
    apply_booking(conn, first, WEBHOOK)
    second = booking("https://api.calendly.com/event_types/BOB", invitee="I2", event="E2",
                     email=" GRACE@example.com", name="G. Hopper", created_at=utcnow() - timedelta(hours=1))
    apply_booking(conn_b, second, WEBHOOK)
    contact = Contact.get()
    assert Contact.select().count() == 1 and contact.name == "Ada Lovelace"  # first name kept
    assert contact.assigned_user_id == bob.id
    # A late delivery of an older booking does not take the contact back (latest *booked*).
    older = booking(ET, invitee="I0", event="E0", email="grace@example.com",
                    created_at=utcnow() - timedelta(hours=3))
    apply_booking(conn, older, WEBHOOK)
    assert Contact.get().assigned_user_id == bob.id


def test_o3_ties_on_booking_time_go_to_the_later_start(acme, people):
    sub, ada, conn = acme
    bob = people.user("bob@acme.test")
    conn_b = make_connection(bob, sub)
    select(conn_b, "https://api.calendly.com/event_types/BOB", "Bob's checkup")
    at = utcnow() - timedelta(hours=1)
    apply_booking(conn_b, booking("https://api.calendly.com/event_types/BOB", invitee="I1", event="E1",
                                  created_at=at, start=at + timedelta(days=9)), WEBHOOK)
    apply_booking(conn, booking(ET, invitee="I2", event="E2", created_at=at, start=at + timedelta(days=3)),
                  WEBHOOK)
    contact = Contact.get()
    assert contact.assigned_user_id == bob.id
    assert ownership.latest_appointment(contact).start == at + timedelta(days=9)


@pytest.mark.parametrize("guest_later", [True, False], ids=["guest on the later booking", "booker of the later"])
def test_o3_a_booking_as_guest_counts_like_one_made(acme, people, guest_later):
    """O3 reads the contact's bookings and the ones it is a guest on: the most recently booked wins."""
    sub, ada, conn = acme
    bob = people.user("bob@acme.test")
    conn_b = make_connection(bob, sub)
    select(conn_b, "https://api.calendly.com/event_types/BOB", "Bob's checkup")
    early, late = utcnow() - timedelta(hours=2), utcnow() - timedelta(hours=1)
    apply_booking(conn, booking(ET, invitee="I1", event="E1", email="grace@example.com",
                                created_at=early if guest_later else late), WEBHOOK)
    apply_booking(conn_b, booking("https://api.calendly.com/event_types/BOB", invitee="I2", event="E2",
                                  email="alan@example.com", guest_emails=("grace@example.com",),
                                  created_at=late if guest_later else early), WEBHOOK)
    grace = Contact.get(Contact.email_normalized == "grace@example.com")
    assert grace.assigned_user_id == (bob.id if guest_later else ada.id)


def test_guest_contact_is_assigned_and_a_guest_matching_the_invitee_is_not_duplicated(acme):
    _, ada, conn = acme
    apply_booking(conn, booking(ET, email="ada@example.com",
                                guest_emails=("ada@example.com", "bob@example.com")), WEBHOOK)
    assert sorted(c.email_normalized for c in Contact.select()) == ["ada@example.com", "bob@example.com"]
    assert Contact.get(Contact.email_normalized == "bob@example.com").assigned_user_id == ada.id


def test_existing_guest_only_contact_gets_the_name_when_it_books(acme):
    _, _, conn = acme
    apply_booking(conn, booking(ET, invitee="I1", guest_emails=("grace@example.com",)), WEBHOOK)
    assert Contact.get(Contact.email_normalized == "grace@example.com").name == ""
    apply_booking(conn, booking(ET, invitee="I2", event="E2", email="grace@example.com", name="Grace"), WEBHOOK)
    assert Contact.get(Contact.email_normalized == "grace@example.com").name == "Grace"


# ---------------------------------------------------------------- O2
def _round_robin(sub, people, *users):
    conns = []
    for user in users:
        c = make_connection(user, sub)
        select(c, RR, "Team intro", shared=True)
        conns.append(c)
    return conns


def test_o2_shared_calendar_owner_is_chosen_at_random_among_members_with_it_selected(acme, people, monkeypatch):
    sub, ada, conn = acme
    bob, cy, dee = (people.user(e) for e in ("bob@acme.test", "cy@acme.test", "dee@acme.test"))
    conn_b, conn_c = _round_robin(sub, people, bob, cy)
    # Dee selected it once but removed it: not a candidate.
    conn_d = make_connection(dee, sub)
    select(conn_d, RR, "Team intro", shared=True, selected_until=utcnow() - timedelta(hours=1), ended_with="keep")
    seen = []
    monkeypatch.setattr(ownership, "choose", lambda members: seen.append([m.email for m in members]) or members[-1])
    apply_booking(conn_b, booking(RR), WEBHOOK)
    appt = Appointment.get()
    assert seen == [["bob@acme.test", "cy@acme.test"]]
    assert appt.owner_id == cy.id and appt.owner_reason == "O2: round robin, chosen among 2 members"


def test_o2_seeded_choice_is_reproducible_and_kept(acme, people, monkeypatch):
    sub, _, _ = acme
    bob, cy = people.user("bob@acme.test"), people.user("cy@acme.test")
    conn_b, conn_c = _round_robin(sub, people, bob, cy)
    owners = []
    for seed in (7, 7):
        Appointment.delete().execute()
        monkeypatch.setattr(ownership, "choose", random.Random(seed).choice)
        apply_booking(conn_b, booking(RR), WEBHOOK)
        owners.append(Appointment.get().owner_id)
    assert owners[0] == owners[1] == random.Random(7).choice([bob.id, cy.id])
    # The other member's delivery of the same booking keeps the owner chosen at import.
    monkeypatch.setattr(ownership, "choose", lambda members: pytest.fail("chose twice"))
    apply_booking(conn_c, booking(RR), WEBHOOK)
    assert Appointment.get().owner_id == owners[0]
    assert AppointmentSource.select().count() == 2


# ---------------------------------------------------------------- E4
def test_cancellation_is_not_reflected_by_default(acme):
    _, _, conn = acme
    apply_booking(conn, booking(ET), WEBHOOK)
    result = apply_booking(conn, booking(ET, status="canceled"), WEBHOOK)
    assert (result.outcome, result.detail) == (Outcome.UNCHANGED, "E4: cancellation not reflected")
    assert Appointment.get().status == AppointmentStatus.BOOKED


def _reflect(sub):
    Subaccount.update(reflect_cancellations=True).where(Subaccount.id == sub.id).execute()


def test_reflected_cancellation_marks_the_appointment_cancelled(acme):
    sub, _, conn = acme
    _reflect(sub)
    apply_booking(conn, booking(ET), WEBHOOK)
    when = utcnow() - timedelta(minutes=1)
    result = apply_booking(conn, booking(ET, status="canceled", canceled_at=when), WEBHOOK)
    appt = Appointment.get()
    assert result.outcome == Outcome.UPDATED
    assert (appt.status, appt.cancelled_at) == (AppointmentStatus.CANCELLED, when)


def _reschedule_pair():
    old = booking(ET, invitee="OLD", event="E1", status="canceled", rescheduled=True,
                  new_invitee_uri="https://api.calendly.com/scheduled_events/E2/invitees/NEW")
    new = booking(ET, invitee="NEW", event="E2", old_invitee_uri=old.invitee_uri,
                  start=utcnow() + timedelta(days=5))
    created_old = booking(ET, invitee="OLD", event="E1")
    return created_old, old, new


@pytest.mark.parametrize("order", [
    ("created_old", "canceled_old", "created_new"),
    ("created_old", "created_new", "canceled_old"),
    ("canceled_old", "created_new", "created_old"),
    ("created_new", "canceled_old", "created_old"),
])
def test_reflected_reschedule_gives_one_end_state_in_any_order(acme, order):
    sub, _, conn = acme
    _reflect(sub)
    created_old, canceled_old, created_new = _reschedule_pair()
    items = {"created_old": created_old, "canceled_old": canceled_old, "created_new": created_new}
    for name in order:
        apply_booking(conn, items[name], WEBHOOK)
    old = Appointment.get(Appointment.invitee_uri == created_old.invitee_uri)
    new = Appointment.get(Appointment.invitee_uri == created_new.invitee_uri)
    assert old.status == AppointmentStatus.RESCHEDULED and old.rescheduled_to_id == new.id
    assert new.status == AppointmentStatus.BOOKED and new.rescheduled_to_id is None
    assert Appointment.select().count() == 2


@pytest.mark.parametrize("order", [("created", "canceled"), ("canceled", "created")])
def test_cancellation_out_of_order_without_reflection_leaves_a_booked_appointment(acme, order):
    _, _, conn = acme
    items = {"created": booking(ET), "canceled": booking(ET, status="canceled")}
    for name in order:
        apply_booking(conn, items[name], WEBHOOK)
    assert [a.status for a in Appointment.select()] == [AppointmentStatus.BOOKED]


def test_o3_recompute_after_deleting_the_latest_appointment(acme, people):
    sub, ada, conn = acme
    bob = people.user("bob@acme.test")
    conn_b = make_connection(bob, sub)
    select(conn_b, "https://api.calendly.com/event_types/BOB", "Bob's checkup")
    apply_booking(conn, booking(ET, invitee="I1", created_at=utcnow() - timedelta(hours=2)), WEBHOOK)
    apply_booking(conn_b, booking("https://api.calendly.com/event_types/BOB", invitee="I2", event="E2",
                                  created_at=utcnow() - timedelta(hours=1)), WEBHOOK)
    contact = Contact.get()
    assert contact.assigned_user_id == bob.id
    Appointment.delete().where(Appointment.owner == bob).execute()  # what a Delete purge does (D5)
    ownership.refresh_assigned_users([contact.id])
    assert Contact.get_by_id(contact.id).assigned_user_id == ada.id
    Appointment.delete().execute()
    ownership.refresh_assigned_users([contact.id])
    assert Contact.get_by_id(contact.id).assigned_user_id is None


def test_o2_members_whose_connection_is_not_syncing_are_not_candidates(acme, people, monkeypatch):
    sub, _, _ = acme
    bob, cy = people.user("bob@acme.test"), people.user("cy@acme.test")
    conn_b, conn_c = _round_robin(sub, people, bob, cy)
    conn_c.status = Status.PLAN_NOT_SUPPORTED
    conn_c.save()
    apply_booking(conn_b, booking(RR), WEBHOOK)
    appt = Appointment.get()
    assert appt.owner_id == bob.id and appt.owner_reason == "O2: round robin, chosen among 1 member"
