"""Time zones on the pages (issue 16): admins set the subaccount's, a user may choose their own;
pages show local times with the zone named and forms take them; storage stays UTC."""
import re
from datetime import datetime

from portal.extensions import db
from portal.models import Appointment, Source, Subaccount, User


def set_zone(name, subaccount="Acme Dental"):
    with db.connection_context():
        Subaccount.update(time_zone=name).where(Subaccount.name == subaccount).execute()


def test_an_admin_sets_the_subaccount_time_zone_in_preferences(client, people, auth):
    people.user("boss@acme.test", role="admin")
    auth.login("boss@acme.test")
    page = client.get("/calendars/settings/preferences").get_data(as_text=True)
    assert '<label for="time_zone"><strong>Time zone</strong></label>' in page
    assert '<option value="America/Chicago">America/Chicago</option>' in page
    resp = client.post("/calendars/settings/preferences", data={"time_zone": "America/Chicago"})
    assert resp.status_code == 302
    with db.connection_context():
        assert Subaccount.get(Subaccount.name == "Acme Dental").time_zone == "America/Chicago"
    assert "All times in America/Chicago" in client.get("/calendars/").get_data(as_text=True)


def test_an_unknown_zone_is_refused_in_words(client, people, auth):
    people.user("boss@acme.test", role="admin")
    auth.login("boss@acme.test")
    resp = client.post("/calendars/settings/preferences", data={"time_zone": "Mars/Olympus"})
    assert resp.status_code == 422 and "Choose a time zone from the list" in resp.get_data(as_text=True)


def test_a_user_cannot_change_the_subaccount_zone(client, signed_in):
    resp = client.post("/calendars/settings/preferences", data={"time_zone": "Europe/Berlin"})
    assert resp.status_code == 403
    with db.connection_context():
        assert Subaccount.get(Subaccount.name == "Acme Dental").time_zone == "UTC"


def test_pages_show_a_chicago_subaccount_its_local_times_winter_and_summer(client, signed_in, rows):
    set_zone("America/Chicago")
    winter = rows.appointment(title="Winter", start=datetime(2030, 1, 15, 15, 0))
    summer = rows.appointment(title="Summer", start=datetime(2030, 7, 15, 15, 0))
    assert "Tue 15 Jan 2030, 9:00 AM–9:30 AM CST" in client.get(f"/calendars/appointments/{winter.id}").get_data(as_text=True)
    assert "Mon 15 Jul 2030, 10:00 AM–10:30 AM CDT" in client.get(f"/calendars/appointments/{summer.id}").get_data(as_text=True)
    listing = client.get("/calendars/?when=all").get_data(as_text=True)
    assert "When (America/Chicago)" in listing
    assert "9:00 AM–9:30 AM CST" in listing and "10:00 AM–10:30 AM CDT" in listing


def test_my_profile_zone_overrides_the_subaccount_zone_for_me_only(client, signed_in, rows):
    set_zone("America/Chicago")
    a = rows.appointment(title="Call", start=datetime(2030, 1, 15, 15, 0))
    resp = client.post("/profile/time-zone", data={"time_zone": "Europe/Berlin"})
    assert resp.status_code == 303
    assert "Tue 15 Jan 2030, 16:00–16:30 CET" in client.get(f"/calendars/appointments/{a.id}").get_data(as_text=True)
    client.post("/profile/time-zone", data={"time_zone": ""})
    with db.connection_context():
        assert User.get(User.email == "ann@acme.test").time_zone is None
    assert "9:00 AM–9:30 AM CST" in client.get(f"/calendars/appointments/{a.id}").get_data(as_text=True)


def _new(client, start, end):
    return client.post("/calendars/appointments/new", data={"title": "Check-up", "start": start, "end": end})


def test_a_new_appointment_typed_in_chicago_time_is_stored_as_utc_across_the_dst_change(client, signed_in):
    set_zone("America/Chicago")
    form = client.get("/calendars/appointments/new").get_data(as_text=True)
    assert "Start (America/Chicago)" in form and "End (America/Chicago)" in form
    assert _new(client, "2030-03-09T09:00", "2030-03-09T09:30").status_code == 303   # CST, UTC−6
    assert _new(client, "2030-03-11T09:00", "2030-03-11T09:30").status_code == 303   # CDT, UTC−5
    with db.connection_context():
        starts = [a.start for a in Appointment.select().where(Appointment.source == Source.PORTAL).order_by(Appointment.start)]
    assert starts == [datetime(2030, 3, 9, 15, 0), datetime(2030, 3, 11, 14, 0)]


def test_a_skipped_time_is_refused_and_nothing_is_stored(client, signed_in):
    set_zone("America/Chicago")
    resp = _new(client, "2030-03-10T02:30", "2030-03-10T03:30")
    assert resp.status_code == 422
    assert "does not exist in America/Chicago" in resp.get_data(as_text=True)
    with db.connection_context():
        assert not Appointment.select().where(Appointment.source == Source.PORTAL).exists()


def test_editing_in_berlin_time_shows_local_values_and_stores_utc(client, signed_in, rows):
    set_zone("Europe/Berlin")
    a = rows.appointment(title="Visit", source=Source.PORTAL, start=datetime(2030, 10, 26, 7, 0))  # 9:00 CEST
    form = client.get(f"/calendars/appointments/{a.id}/edit").get_data(as_text=True)
    assert re.search(r'name="start"[^>]*value="2030-10-26T09:00"', form)
    resp = client.post(f"/calendars/appointments/{a.id}/edit",
                       data={"title": "Visit", "start": "2030-10-28T09:00", "end": "2030-10-28T09:30"})
    assert resp.status_code == 303
    with db.connection_context():
        assert Appointment.get_by_id(a.id).start == datetime(2030, 10, 28, 8, 0)  # CET, UTC+1
