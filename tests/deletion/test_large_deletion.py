"""Deleting 10,000 appointments is a background job with visible progress (SPEC D5)."""
import re
import time
from datetime import timedelta

import pytest

from portal.extensions import db
from portal.models import Appointment, AppointmentSource, Contact, Source, Task
from portal.timeutil import utcnow

from deletion_helpers import SETTINGS, count, page, save_edit

pytestmark = pytest.mark.slow

APPOINTMENTS, CONTACTS = 10_000, 1_000
PERCENT = re.compile(r'aria-valuenow="(\d+)"')


def fill(team, conn):
    """10,000 Cleaning appointments of Ann's connection, for 1,000 contacts, straight into the database."""
    now = utcnow()
    with db.atomic():
        Contact.insert_many([{"subaccount": team.sub, "email": f"p{i}@example.com",
                              "email_normalized": f"p{i}@example.com", "name": f"Person {i}",
                              "assigned_user": team.ann} for i in range(CONTACTS)]).execute()
        contacts = [c.id for c in Contact.select(Contact.id).order_by(Contact.id)]
        for base in range(0, APPOINTMENTS, 1000):
            rows = [{"subaccount": team.sub, "source": Source.CALENDLY, "title": "Cleaning",
                     "start": now + timedelta(hours=i), "end": now + timedelta(hours=i, minutes=30),
                     "contact": contacts[i % CONTACTS], "owner": team.ann, "event_type_uri": team.cleaning["uri"],
                     "calendar_name": "Cleaning", "booked_at": now - timedelta(minutes=i),
                     "invitee_uri": f"https://api.calendly.com/scheduled_events/E{i}/invitees/I{i}"}
                    for i in range(base, base + 1000)]
            Appointment.insert_many(rows).execute()
        ids = Appointment.select(Appointment.id).where(Appointment.event_type_uri == team.cleaning["uri"])
        AppointmentSource.insert_from(ids.select(Appointment.id, conn.id, now), [
            AppointmentSource.appointment, AppointmentSource.connection, AppointmentSource.created_at]).execute()


def test_ten_thousand_appointments_are_deleted_in_the_background_with_progress(team, client, auth, worker):
    conn = team.connect(team.ann, "ann@cal.test", ["Cleaning", "Whitening"])
    fill(team, conn)
    assert count(team.cleaning) == APPOINTMENTS
    auth.login("ann@acme.test")

    began = time.monotonic()
    resp = save_edit(client, conn, [team.whitening], [(team.cleaning, "delete")])
    elapsed = time.monotonic() - began
    assert resp.status_code == 200 and "HX-Redirect" in resp.headers
    assert elapsed < 3, f"the Save took {elapsed:.1f}s: the deletion must run in the job"

    task = Task.get(Task.kind == "purge_calendar")
    assert (task.total, task.description) == (APPOINTMENTS, "Cleaning")
    text = page(client)
    assert 'aria-labelledby="deletions-title"' in text and f'hx-get="{SETTINGS}/tasks/{task.id}"' in text

    seen, last = set(), None
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        last = client.get(f"{SETTINGS}/tasks/{task.id}", headers={"HX-Request": "true"})
        body = last.get_data(as_text=True)
        if last.status_code == 286:
            break
        assert last.status_code == 200 and 'hx-trigger="every 1s"' in body
        match = PERCENT.search(body)
        if match:
            seen.add(int(match.group(1)))
            assert f"{match.group(1)}%" in body
        time.sleep(0.05)
    assert last.status_code == 286, "the deletion did not finish within two minutes"
    assert any(0 < p < 100 for p in seen), f"no progress shown while running (saw {sorted(seen)})"
    body = last.get_data(as_text=True)
    assert "10,000 events deleted" in body and "Contacts were kept." in body and "every 1s" not in body

    assert count(team.cleaning) == 0 and AppointmentSource.select().count() == 0
    assert Contact.select().count() == CONTACTS
    assert Contact.select().where(Contact.assigned_user.is_null(False)).count() == 0  # O3: no appointment left
    task = Task.get_by_id(task.id)
    assert (task.state, task.done) == ("done", APPOINTMENTS)
