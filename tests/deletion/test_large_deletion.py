"""Deleting 10,000 appointments is a background job with visible progress (SPEC D5)."""
import re
import time

import pytest

from portal.models import AppointmentSource, Contact, Task

from deletion_helpers import APPOINTMENTS, CONTACTS, SETTINGS, count, fill, page, save_edit

pytestmark = pytest.mark.slow

PERCENT = re.compile(r'aria-valuenow="(\d+)"')


def test_ten_thousand_appointments_are_deleted_in_the_background_with_progress(team, client, auth, worker):
    conn = team.connect(team.ann, "ann@cal.test", ["Cleaning", "Whitening"])
    fill(team, conn)
    assert count(team.cleaning) == APPOINTMENTS
    auth.login("ann@acme.test")

    resp = save_edit(client, conn, [team.whitening], [(team.cleaning, "delete")])
    assert resp.status_code == 200 and "HX-Redirect" in resp.headers
    # The Save only queues the deletion: the progress seen below, between 0 and 100 %, shows it runs in the job.

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
    assert "Done" in body and "10,000 events deleted on" in body and "Contacts were kept." in body
    assert "every 1s" not in body

    assert count(team.cleaning) == 0 and AppointmentSource.select().count() == 0
    assert Contact.select().count() == CONTACTS
    assert Contact.select().where(Contact.assigned_user.is_null(False)).count() == 0  # O3: no appointment left
    task = Task.get_by_id(task.id)
    assert (task.state, task.done) == ("done", APPOINTMENTS)
