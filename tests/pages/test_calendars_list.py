"""The appointments list: columns, filters, keyset paging and the live poll (SPEC E1, E5, T2)."""
import re
from datetime import datetime, timedelta

from portal import live
from portal.extensions import db
from portal.models import Appointment, AppointmentStatus, Source
from portal.timeutil import utcnow


def titles(html):
    return re.findall(r'class="cell-strong" href="/calendars/appointments/\d+">([^<]+)</a>', html)


def next_link(html, rel):
    m = re.search(rf'rel="{rel}" href="([^"]+)"', html)
    return m.group(1).replace("&amp;", "&") if m else None


def test_list_shows_what_a_user_needs_about_each_appointment(client, signed_in, rows):
    grace = rows.contact(name="Grace Hopper", email="grace@example.com")
    start = (utcnow() + timedelta(days=2)).replace(hour=14, minute=30, second=0, microsecond=0)
    rows.appointment(title="Cleaning", start=start, contact=grace, owner=signed_in, calendar="Dental cleaning")
    html = client.get("/calendars/").get_data(as_text=True)
    assert "Cleaning" in html
    assert f"{start:%a} {start.day} {start:%b %Y}" in html and "14:30–15:00 UTC" in html
    assert "Grace Hopper" in html and "grace@example.com" in html
    assert "Ann Owner" in html and "Dental cleaning" in html
    assert '<span class="badge badge-source-calendly">Calendly</span>' in html
    assert '<span class="badge badge-booked">Booked</span>' in html
    # The tabs of the Calendars section, Calendar Settings leading to Connections.
    assert ">Appointments</a>" in html and ">Week</a>" in html
    assert re.search(r'<a href="/calendars/settings/[^"]*" >Calendar Settings</a>', html)


def test_status_badges_cancelled_and_rescheduled(client, signed_in, rows):
    new = rows.appointment(title="Moved here")
    rows.appointment(title="Moved away", rescheduled_to=new, status=AppointmentStatus.CANCELLED)
    rows.appointment(title="Called off", status=AppointmentStatus.CANCELLED)
    rows.appointment(title="Typed in", source=Source.PORTAL)
    html = client.get("/calendars/").get_data(as_text=True)
    assert html.count('badge-rescheduled">Rescheduled<') == 1
    assert html.count('badge-cancelled">Cancelled<') == 1
    assert html.count('badge-booked">Booked<') == 2
    assert '<span class="badge badge-source-portal">Portal</span>' in html


def test_empty_state_points_to_calendar_settings(client, signed_in):
    html = client.get("/calendars/").get_data(as_text=True)
    assert "No appointments yet." in html
    assert "Calendar Settings › Connections" in html


def test_upcoming_past_and_all_filters(client, signed_in, rows):
    now = utcnow()
    rows.appointment(title="Tomorrow", start=now + timedelta(days=1))
    rows.appointment(title="Next week", start=now + timedelta(days=7))
    rows.appointment(title="Yesterday", start=now - timedelta(days=1))
    rows.appointment(title="Last month", start=now - timedelta(days=30))
    rows.appointment(title="Happening now", start=now - timedelta(minutes=10), minutes=60)
    assert titles(client.get("/calendars/").get_data(as_text=True)) == ["Happening now", "Tomorrow", "Next week"]
    assert titles(client.get("/calendars/?when=past").get_data(as_text=True)) == ["Yesterday", "Last month"]
    assert titles(client.get("/calendars/?when=all").get_data(as_text=True)) == [
        "Next week", "Tomorrow", "Happening now", "Yesterday", "Last month"]
    # A filter with nothing in it says so, without the first-time empty state.
    html = client.get("/calendars/?when=past&calendar=portal").get_data(as_text=True)
    assert "No past appointments in this calendar." in html and "No appointments yet." not in html


def test_calendar_filter(client, signed_in, rows, app_ctx):
    from portal.models import CalendarSelection, CalendlyConnection

    conn = CalendlyConnection.create(subaccount=signed_in.subaccounts()[0], user=signed_in,
                                     calendly_user_uri="https://api.calendly.com/users/U1", webhook_token="t1")
    CalendarSelection.create(connection=conn, event_type_uri="https://api.calendly.com/event_types/CLEANING",
                             name="Cleaning")
    rows.appointment(title="Scale and polish", calendar="Cleaning")
    rows.appointment(title="First visit", calendar="Intro call")
    rows.appointment(title="Phone booking", source=Source.PORTAL)
    page = client.get("/calendars/").get_data(as_text=True)
    assert '<option value="https://api.calendly.com/event_types/CLEANING" >Cleaning</option>' in page
    assert '<option value="portal" >Created in the portal</option>' in page
    only = client.get("/calendars/?calendar=https://api.calendly.com/event_types/CLEANING").get_data(as_text=True)
    assert titles(only) == ["Scale and polish"]
    assert titles(client.get("/calendars/?calendar=portal").get_data(as_text=True)) == ["Phone booking"]


def test_keyset_pagination_pages_through_120_rows_both_ways(client, signed_in, rows):
    # Two rows share every start time, so the id must break ties without gaps or repeats.
    rows.many(60, start=datetime(2031, 3, 2, 9, 0), step=timedelta(hours=2))
    rows.many(60, start=datetime(2031, 3, 2, 9, 0), step=timedelta(hours=2))
    url, seen, pages = "/calendars/?when=all", [], []
    while url:
        html = client.get(url).get_data(as_text=True)
        page = titles(html)
        assert 0 < len(page) <= 25
        pages.append(page)
        seen += page
        url = next_link(html, "next")
    assert len(pages) == 5 and len(seen) == 120
    with db.connection_context():
        expected = [a.title for a in Appointment.select().order_by(Appointment.start.desc(), Appointment.id.desc())]
    assert seen == expected
    # Walking back with "Previous" gives the same pages.
    back = []
    url = next_link(client.get("/calendars/?when=all").get_data(as_text=True), "next")
    for _ in range(3):
        url = next_link(client.get(url).get_data(as_text=True), "next")
    html = client.get(url).get_data(as_text=True)
    assert titles(html) == pages[4]
    while (url := next_link(html, "prev")):
        html = client.get(url).get_data(as_text=True)
        back.insert(0, titles(html))
    assert back == pages[:4]


def test_a_damaged_cursor_shows_the_first_page(client, signed_in, rows):
    rows.appointment(title="Still here")
    resp = client.get("/calendars/?after=not-a-cursor!")
    assert resp.status_code == 200 and titles(resp.get_data(as_text=True)) == ["Still here"]


def test_pages_never_use_offset(client, signed_in, rows, app):
    rows.many(30)
    statements = []
    database = db.obj

    original = database.execute_sql

    def spy(sql, params=None, *a, **kw):
        statements.append(sql)
        return original(sql, params, *a, **kw)

    database.execute_sql = spy
    try:
        html = client.get("/calendars/?when=all").get_data(as_text=True)
        client.get(next_link(html, "next"))
    finally:
        database.execute_sql = original
    appointment_queries = [s for s in statements if 'FROM "appointment"' in s]
    assert appointment_queries
    assert not any("OFFSET" in s.upper() or "COUNT(" in s.upper() for s in appointment_queries)


def _live_list_url(html):
    return re.search(r'data-live-list="(/calendars/\?[^"]*v=[0-9a-f]+[^"]*)"', html).group(1).replace("&amp;", "&")


def live_version(app, subaccount_id):
    with app.app_context(), db.connection_context():
        return live.version(subaccount_id)


def _announce(app, appointment):
    """What the sync and the services do after a write: bump the subaccount's live version (portal/live.py)."""
    with app.app_context(), db.connection_context():
        live.touch(appointment.subaccount_id)


def test_live_poll_answers_204_until_something_changes(app, client, signed_in, rows):
    html = client.get("/calendars/").get_data(as_text=True)
    poll = _live_list_url(html)
    hx = {"HX-Request": "true"}
    assert client.get(poll, headers=hx).status_code == 204
    _announce(app, rows.appointment(title="Booked a moment ago"))
    resp = client.get(poll, headers=hx)
    fragment = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "Booked a moment ago" in fragment
    assert "<html" not in fragment and 'id="appointments"' in fragment
    # The fresh fragment carries the new fingerprint: polling is quiet again.
    assert client.get(_live_list_url(fragment), headers=hx).status_code == 204


def test_every_open_page_at_one_version_gets_the_list_drawn_once(app, client, signed_in, rows, monkeypatch):
    from portal.appointments import live_list

    drawn = []
    real = live_list.LiveList._draw
    monkeypatch.setattr(live_list.LiveList, "_draw", lambda self: drawn.append("appointments/_appointments.html") or real(self))
    poll = _live_list_url(client.get("/calendars/?when=all").get_data(as_text=True))
    _announce(app, rows.appointment(title="Seen by every tab"))
    hx = {"HX-Request": "true"}
    answers = [client.get(poll, headers=hx) for _ in range(5)]
    assert all(r.status_code == 200 and "Seen by every tab" in r.get_data(as_text=True) for r in answers)
    assert drawn.count("appointments/_appointments.html") == 1
    # The next change is drawn afresh, not served from the kept list.
    _announce(app, rows.appointment(title="Booked after that"))
    assert "Booked after that" in client.get(poll, headers=hx).get_data(as_text=True)
    assert drawn.count("appointments/_appointments.html") == 2


def test_a_kept_list_is_never_served_to_another_subaccount(app, client, signed_in, rows, people, auth):
    other = people.subaccount("Other Clinic")
    people.user("olga@other.test", name="Olga", subaccount="Other Clinic")
    _announce(app, rows.appointment(title="Acme only"))
    with app.app_context(), db.connection_context():
        live.touch(other.id)  # both subaccounts now at the same version number, in the same zone
    assert live_version(app, other.id) == live_version(app, people.subaccount("Acme Dental").id)
    hx = {"HX-Request": "true"}
    assert "Acme only" in client.get("/calendars/?when=all", headers=hx).get_data(as_text=True)
    client.post("/signout")
    auth.login("olga@other.test")
    theirs = client.get("/calendars/?when=all", headers=hx).get_data(as_text=True)
    assert 'id="appointments"' in theirs and "Acme only" not in theirs


def test_another_subaccounts_appointments_are_not_listed(client, signed_in, rows, people):
    people.subaccount("Other Clinic")
    rows.appointment(subaccount="Other Clinic", title="Their booking")
    rows.appointment(title="Our booking")
    html = client.get("/calendars/?when=all").get_data(as_text=True)
    assert "Our booking" in html and "Their booking" not in html


def test_list_needs_sign_in(client):
    assert client.get("/calendars/").status_code == 302
