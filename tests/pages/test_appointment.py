"""One appointment: every E1 field, read-only Calendly ones (E3, 409), portal ones (E6), T2 404s."""
import re
from datetime import datetime

import pytest

from portal.extensions import db
from portal.models import Appointment, AppointmentStatus, Contact, Source
from page_text import without_tokens

MESSAGE = "This appointment is managed in Calendly and can&#39;t be changed here."
PLAIN_MESSAGE = ("This appointment is managed in Calendly and can't be changed here. "
                 "Reschedule or cancel it in Calendly; the change shows here within seconds.")


def test_detail_shows_every_field_of_an_imported_booking(client, signed_in, rows):
    booker = rows.contact(name="Grace Hopper", email="grace@example.com")
    guest = rows.contact(email="alan@example.com")
    later = rows.appointment(title="Intro call (new time)", start=datetime(2030, 5, 7, 9, 0))
    a = rows.appointment(title="Intro call", start=datetime(2030, 5, 6, 14, 30), minutes=45, contact=booker,
                         owner=signed_in, owner_reason="O1: personal calendar of Ann Owner", guests=[guest],
                         calendar="Intro call", rescheduled_to=later, status=AppointmentStatus.CANCELLED)
    html = client.get(f"/calendars/appointments/{a.id}").get_data(as_text=True)
    assert "<h1>Intro call</h1>" in html
    assert "Mon 6 May 2030, 14:30–15:15 UTC" in html and "45 min" in html
    assert "Calendly</span>" in html and "Intro call" in html
    # API URIs are for machines: the page links to Calendly instead, and says why Ann owns it without rule ids.
    assert a.event_uri not in html and a.invitee_uri not in html and "api.calendly.com" not in html
    assert "Ann Owner — the booking came through Ann Owner’s Calendly connection" in html and "O1" not in without_tokens(html)
    assert f'href="/contacts/{booker.id}">Grace Hopper</a>' in html
    assert f'href="/contacts/{guest.id}">alan@example.com</a>' in html
    assert "Rescheduled" in html and f'href="/calendars/appointments/{later.id}">Intro call (new time)' in html
    assert "Managed in Calendly" in html
    assert "/edit" not in html and ">Edit<" not in html and ">Delete<" not in html


def test_guest_names_are_escaped(client, signed_in, rows):
    evil = rows.contact(name="<script>alert('x')</script>", email="evil@example.com")
    a = rows.appointment(title="<b>Bold</b> title", contact=evil, guests=[rows.contact(name="<script>g</script>")])
    for url in (f"/calendars/appointments/{a.id}", "/calendars/", f"/contacts/{evil.id}", "/contacts/"):
        html = client.get(url).get_data(as_text=True)
        assert "<script>" not in html.split("</head>", 1)[1], url
        assert "&lt;script&gt;" in html, url
    assert "&lt;b&gt;Bold&lt;/b&gt; title" in client.get("/calendars/").get_data(as_text=True)


@pytest.mark.parametrize("method, path, headers", [
    ("POST", "", {}),
    ("PUT", "", {}),
    ("PATCH", "", {}),
    ("DELETE", "", {}),
    ("POST", "/edit", {}),
    ("PUT", "/edit", {}),
    ("PATCH", "/edit", {}),
    ("POST", "/delete", {}),
    ("DELETE", "/delete", {}),
    ("POST", "/edit", {"HX-Request": "true"}),
    ("DELETE", "", {"HX-Request": "true"}),
    ("PATCH", "", {"Accept": "application/json"}),
])
def test_every_change_to_a_calendly_appointment_is_refused_with_409(client, signed_in, rows, method, path, headers):
    a = rows.appointment(title="Imported", owner=signed_in)
    resp = client.open(f"/calendars/appointments/{a.id}{path}", method=method, headers=headers,
                       data={"title": "Hacked", "start": "2030-01-01T10:00", "end": "2030-01-01T11:00"})
    assert resp.status_code == 409
    body = resp.get_data(as_text=True)
    if headers.get("Accept") == "application/json":
        assert resp.get_json()["error"] == PLAIN_MESSAGE
    else:
        assert MESSAGE in body
    if headers.get("HX-Request"):
        assert "<html" not in body and resp.headers["HX-Retarget"] == "#htmx-alerts"
    with db.connection_context():
        unchanged = Appointment.get_by_id(a.id)
    assert unchanged.title == "Imported"


def test_the_409_page_for_a_form_post_shows_the_appointment_and_the_message(client, signed_in, rows):
    a = rows.appointment(title="Imported")
    resp = client.post(f"/calendars/appointments/{a.id}/delete")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 409
    assert 'class="flash flash-error"' in html and MESSAGE in html and "<h1>Imported</h1>" in html


def test_edit_and_delete_pages_of_a_calendly_appointment_lead_back_to_it(client, signed_in, rows):
    a = rows.appointment(title="Imported")
    for path in ("/edit", "/delete"):
        resp = client.get(f"/calendars/appointments/{a.id}{path}", follow_redirects=True)
        assert resp.request.path == f"/calendars/appointments/{a.id}"
        html = resp.get_data(as_text=True)
        # A refusal, not a success: the amber warning, announced as an alert.
        assert MESSAGE in html and 'class="flash flash-warning" role="alert"' in html


def test_create_a_portal_appointment_with_a_new_contact(client, signed_in):
    resp = client.get("/calendars/appointments/new")
    assert 'for="title">Title</label>' in resp.get_data(as_text=True)
    resp = client.post("/calendars/appointments/new", data={
        "title": "Check-up by phone", "start": "2030-02-04T10:00", "end": "2030-02-04T10:30",
        "contact_email": " Pat@Example.com ", "contact_name": "Pat Lee", "notes": "Bring X-rays"})
    assert resp.status_code == 303
    html = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "Appointment created. It stays in the portal and is not sent to Calendly." in html
    assert "<h1>Check-up by phone</h1>" in html and "Mon 4 Feb 2030, 10:00–10:30 UTC" in html
    assert "Portal</span>" in html and "Managed in Calendly" not in html and ">Edit</a>" in html
    with db.connection_context():
        a = Appointment.get(Appointment.title == "Check-up by phone")
        assert a.source == Source.PORTAL and a.invitee_uri is None and a.owner_id == signed_in.id
        assert (a.contact.name, a.contact.email_normalized) == ("Pat Lee", "pat@example.com")
        assert a.contact.assigned_user_id == signed_in.id  # O3: its latest appointment's owner


def test_a_portal_appointment_reuses_the_contact_with_that_email(client, signed_in, rows):
    grace = rows.contact(name="Grace Hopper", email="grace@example.com")
    client.post("/calendars/appointments/new", data={
        "title": "Follow-up", "start": "2030-02-04T10:00", "end": "2030-02-04T10:30",
        "contact_email": "GRACE@example.com", "contact_name": "Someone Else"})
    with db.connection_context():
        assert Contact.select().count() == 1
        assert Appointment.get(Appointment.title == "Follow-up").contact_id == grace.id
        assert Contact.get_by_id(grace.id).name == "Grace Hopper"


def test_bad_input_is_explained_and_nothing_typed_is_lost(client, signed_in):
    resp = client.post("/calendars/appointments/new", data={
        "title": "", "start": "2030-02-04T10:00", "end": "2030-02-04T09:00",
        "contact_email": "not-an-email", "contact_name": "Pat Lee", "notes": "Keep me"})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422
    assert "Give the appointment a title." in html
    assert "The end must be after the start." in html
    assert "Enter a valid email address" in html
    assert 'value="not-an-email"' in html and 'value="Pat Lee"' in html and "Keep me" in html
    assert 'value="2030-02-04T10:00"' in html
    with db.connection_context():
        assert Appointment.select().count() == 0


def test_edit_a_portal_appointment(client, signed_in, rows):
    a = rows.appointment(title="Old title", source=Source.PORTAL, owner=signed_in, start=datetime(2030, 3, 1, 9))
    form = client.get(f"/calendars/appointments/{a.id}/edit").get_data(as_text=True)
    assert 'value="Old title"' in form and 'value="2030-03-01T09:00"' in form
    resp = client.post(f"/calendars/appointments/{a.id}/edit", data={
        "title": "New title", "start": "2030-03-01T11:00", "end": "2030-03-01T12:00"})
    assert resp.status_code == 303
    assert "Appointment updated." in client.get(resp.headers["Location"]).get_data(as_text=True)
    with db.connection_context():
        a = Appointment.get_by_id(a.id)
    assert (a.title, a.start, a.end) == ("New title", datetime(2030, 3, 1, 11), datetime(2030, 3, 1, 12))


def test_patch_changes_only_the_fields_sent(client, signed_in, rows):
    a = rows.appointment(title="Keep", source=Source.PORTAL, owner=signed_in, start=datetime(2030, 3, 1, 9))
    resp = client.patch(f"/calendars/appointments/{a.id}", data={"end": "2030-03-01T10:00"},
                        headers={"Accept": "application/json"})
    assert resp.status_code == 200
    with db.connection_context():
        a = Appointment.get_by_id(a.id)
    assert (a.title, a.start, a.end) == ("Keep", datetime(2030, 3, 1, 9), datetime(2030, 3, 1, 10))


def test_delete_a_portal_appointment_keeps_the_contact(client, signed_in, rows):
    pat = rows.contact(name="Pat", email="pat@example.com", assigned_user=signed_in)
    a = rows.appointment(title="Going away", source=Source.PORTAL, contact=pat, owner=signed_in)
    confirm = client.get(f"/calendars/appointments/{a.id}/delete").get_data(as_text=True)
    assert "Delete this appointment?" in confirm and ">Delete appointment</button>" in confirm
    modal = client.get(f"/calendars/appointments/{a.id}/delete", headers={"HX-Request": "true"})
    assert '<dialog class="modal" aria-labelledby="confirm-delete-title"' in modal.get_data(as_text=True) and "<html" not in modal.get_data(as_text=True)
    resp = client.post(f"/calendars/appointments/{a.id}/delete")
    assert resp.status_code == 303 and resp.headers["Location"].endswith("/calendars/")
    assert "deleted" in client.get("/calendars/").get_data(as_text=True)
    with db.connection_context():
        assert not Appointment.select().where(Appointment.id == a.id).exists()
        pat = Contact.get_by_id(pat.id)
        assert pat.assigned_user_id is None  # O3: no appointment left


def test_http_delete_of_a_portal_appointment(client, signed_in, rows):
    a = rows.appointment(source=Source.PORTAL, owner=signed_in)
    assert client.delete(f"/calendars/appointments/{a.id}", headers={"Accept": "application/json"}).status_code == 204
    with db.connection_context():
        assert Appointment.select().count() == 0


def test_another_subaccounts_appointment_is_404_on_every_route(client, signed_in, rows, people):
    people.subaccount("Other Clinic")
    theirs = rows.appointment(subaccount="Other Clinic", title="Their secret", source=Source.PORTAL)
    for method, path in [("GET", ""), ("POST", ""), ("PATCH", ""), ("DELETE", ""), ("GET", "/edit"),
                         ("POST", "/edit"), ("GET", "/delete"), ("POST", "/delete")]:
        resp = client.open(f"/calendars/appointments/{theirs.id}{path}", method=method, data={"title": "x"})
        assert resp.status_code == 404, (method, path)
        assert "Their secret" not in resp.get_data(as_text=True)
    page = client.get(f"/calendars/appointments/{theirs.id}").get_data(as_text=True)
    assert "Page not found" in page and 'href="/"' in page
    with db.connection_context():
        assert Appointment.get_by_id(theirs.id).title == "Their secret"


@pytest.mark.csrf
def test_changes_need_the_csrf_token_which_htmx_sends_as_a_header(client, people, rows):
    ann = people.user("ann@acme.test")
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/signin").get_data(as_text=True)).group(1)
    client.post("/signin", data={"email": "ann@acme.test", "password": "password123", "csrf_token": token})
    a = rows.appointment(source=Source.PORTAL, owner=ann)
    page = client.get(f"/calendars/appointments/{a.id}").get_data(as_text=True)
    assert client.post(f"/calendars/appointments/{a.id}/delete").status_code == 400
    with db.connection_context():
        assert Appointment.select().count() == 1
    token = re.search(r'"X-CSRFToken": "([^"]+)"', page).group(1)
    resp = client.delete(f"/calendars/appointments/{a.id}", headers={"HX-Request": "true", "X-CSRFToken": token})
    assert resp.status_code == 200 and resp.headers["HX-Redirect"] == "/calendars/"
    with db.connection_context():
        assert Appointment.select().count() == 0


def test_api_clients_can_send_json(client, signed_in, rows):
    a = rows.appointment(title="Before", source=Source.PORTAL, owner=signed_in, start=datetime(2030, 3, 1, 9))
    resp = client.put(f"/calendars/appointments/{a.id}", json={
        "title": "After", "start": "2030-03-02T09:00", "end": "2030-03-02T09:30"})
    assert resp.status_code == 200 and resp.get_json()["title"] == "After"
    resp = client.patch(f"/calendars/appointments/{a.id}", json={"end": "2030-03-02T08:00"})
    assert resp.status_code == 422 and resp.get_json()["errors"]["end"] == ["The end must be after the start."]
    imported = rows.appointment(title="Imported")
    resp = client.patch(f"/calendars/appointments/{imported.id}", json={"title": "x"})
    assert resp.status_code == 409 and resp.get_json()["error"] == PLAIN_MESSAGE
