"""Removing calendars: Keep/Delete votes and shared-calendar consensus (SPEC D2, D4, D5, W4)."""
import secrets
from datetime import timedelta

import pytest

from portal.models import (
    Appointment,
    AppointmentSource,
    CalendarSelection,
    CalendlyConnection,
    Contact,
    Status,
)
from portal.sync import deletion
from portal.timeutil import utcnow

SHARED = "https://api.calendly.com/event_types/shared-rr"
PERSONAL = "https://api.calendly.com/event_types/personal"


def connect(user, sub, calendars, at=None):
    conn = CalendlyConnection.create(
        subaccount=sub, user=user, calendly_user_uri=f"https://api.calendly.com/users/{user.id}",
        webhook_token=secrets.token_urlsafe(8), status=Status.CONNECTED, connected_at=at or utcnow(),
    )
    for uri in calendars:
        CalendarSelection.create(connection=conn, event_type_uri=uri, name=uri.rsplit("/", 1)[1],
                                 shared=uri == SHARED, selected_from=conn.connected_at, includes_backfill=True)
    return conn


def appointment(sub, uri, contact, owner, sources, booked_days_ago=1, n=[0]):
    n[0] += 1
    now = utcnow()
    appt = Appointment.create(
        subaccount=sub, title="Demo", start=now + timedelta(days=1), end=now + timedelta(days=1, hours=1),
        contact=contact, owner=owner, invitee_uri=f"https://api.calendly.com/invitees/{n[0]}",
        event_type_uri=uri, booked_at=now - timedelta(days=booked_days_ago),
    )
    for conn in sources:
        AppointmentSource.create(appointment=appt, connection=conn)
    return appt


@pytest.fixture
def team(app_ctx, people):
    a = people.user("a@acme.test")
    b = people.user("b@acme.test")
    sub = people.subaccount()
    return sub, a, b, connect(a, sub, [SHARED, PERSONAL]), connect(b, sub, [SHARED])


def purge_all(sub, uri):
    total = 0
    while n := deletion.purge_batch(sub.id, uri, batch_size=2):
        total += n
    return total


def test_shared_calendar_needs_every_member_to_choose_delete(team):
    sub, a, b, conn_a, conn_b = team
    guest = Contact.create(subaccount=sub, email="g@x.test", email_normalized="g@x.test")
    for _ in range(3):
        appointment(sub, SHARED, guest, a, [conn_a])
    deletion.close_selection(conn_a, SHARED, deletion.DELETE)
    assert not deletion.consensus(sub.id, SHARED).agreed
    assert deletion.consensus(sub.id, SHARED).waiting_on == [b.id]
    assert purge_all(sub, SHARED) == 0  # A deleted, B still has it selected: still visible
    deletion.close_selection(conn_b, SHARED, deletion.DELETE)
    assert purge_all(sub, SHARED) == 3
    assert Contact.get_by_id(guest.id)  # D5: contacts stay


def test_one_member_keeping_keeps_shared_events_for_good(team):
    sub, a, b, conn_a, conn_b = team
    guest = Contact.create(subaccount=sub, email="g@x.test", email_normalized="g@x.test")
    appointment(sub, SHARED, guest, a, [conn_a, conn_b])
    deletion.close_selection(conn_b, SHARED, deletion.KEEP)
    deletion.close_selection(conn_a, SHARED, deletion.DELETE)
    assert purge_all(sub, SHARED) == 0
    assert Appointment.select().count() == 1
    votes = {s.connection_id: s.deletion_vote for s in AppointmentSource.select()}
    assert votes == {conn_a.id: "delete", conn_b.id: "keep"}


def test_personal_calendar_delete_purges_and_recomputes_assigned_user(team):
    sub, a, b, conn_a, conn_b = team
    guest = Contact.create(subaccount=sub, email="g@x.test", email_normalized="g@x.test", assigned_user=a)
    appointment(sub, PERSONAL, guest, a, [conn_a], booked_days_ago=1)  # latest booking: A's
    appointment(sub, SHARED, guest, b, [conn_b], booked_days_ago=5)
    deletion.close_selection(conn_a, PERSONAL, deletion.DELETE)
    assert purge_all(sub, PERSONAL) == 1
    guest = Contact.get_by_id(guest.id)
    assert guest.assigned_user_id == b.id  # O3: the remaining (older) booking's owner


def test_reselecting_after_delete_stops_a_pending_purge(team):
    sub, a, b, conn_a, conn_b = team
    appointment(sub, PERSONAL, None, a, [conn_a])
    deletion.close_selection(conn_a, PERSONAL, deletion.DELETE)
    CalendarSelection.create(connection=conn_a, event_type_uri=PERSONAL, name="personal",
                             selected_from=utcnow() + timedelta(seconds=1))
    assert purge_all(sub, PERSONAL) == 0


def test_close_selection_rejects_unknown_choice(team):
    with pytest.raises(ValueError):
        deletion.close_selection(team[3], PERSONAL, "maybe")
