"""The calendar views without a browser (issue 16): placement, lanes, filters, scoping, the Calendars page."""
import os
import re
from datetime import date, datetime
from types import SimpleNamespace

from portal import localtime
from portal.appointments import grid
from portal.models import Source

UTC = localtime.zone("UTC")
CHICAGO = localtime.zone("America/Chicago")


def item(i, start, minutes=30):
    from datetime import timedelta
    return SimpleNamespace(id=i, start=start, end=start + timedelta(minutes=minutes), status="booked", source="calendly")


def test_the_committed_grid_css_is_what_the_generator_makes():
    path = os.path.join(os.path.dirname(__file__), "..", "..", "static", "calendar-grid.css")
    with open(path) as f:
        assert f.read() == grid.css(), "run `make calendar-css`"


def test_an_appointment_sits_in_the_rows_of_its_local_time():
    col = grid.lay_out_day(date(2030, 1, 15), [item(1, datetime(2030, 1, 15, 15, 0))], CHICAGO, grid.WEEK_LANES)
    (p,) = col.placed
    assert (p.row, p.rows, p.start_text) == (9 * 4 + 1, 2, "9:00 AM")  # 9:00 AM CST, two quarter hours


def test_overlapping_appointments_share_the_width_and_extra_ones_become_more():
    day = date(2030, 1, 15)
    two = grid.lay_out_day(day, [item(1, datetime(2030, 1, 15, 9)), item(2, datetime(2030, 1, 15, 9, 15))], UTC, 4)
    assert [(p.column, p.columns) for p in two.placed] == [(1, 30), (31, 30)]
    six = grid.lay_out_day(day, [item(i, datetime(2030, 1, 15, 9)) for i in range(6)], UTC, 4)
    assert len(six.placed) == 3 and sum(m.count for m in six.more) == 3
    after = grid.lay_out_day(day, [item(1, datetime(2030, 1, 15, 9)), item(2, datetime(2030, 1, 15, 10))], UTC, 4)
    assert [p.columns for p in after.placed] == [60, 60]  # not overlapping: full width each


def test_an_appointment_past_midnight_is_clipped_to_its_day():
    (p,) = grid.lay_out_day(date(2030, 1, 15), [item(1, datetime(2030, 1, 15, 23, 30), 90)], UTC, 4).placed
    assert p.row + p.rows - 1 == grid.SLOTS


def days(html):
    sections = re.findall(r'<section class="day[^"]*" role="listitem" aria-label="([^"]+)"(.*?)</section>', html, re.S)
    return {label: re.findall(r'class="event-title">([^<]+)<', body) for label, body in sections}


def test_the_week_is_cut_at_local_midnight(client, signed_in, rows, people):
    from portal.extensions import db
    from portal.models import Subaccount
    with db.connection_context():
        Subaccount.update(time_zone="America/Chicago").where(Subaccount.name == "Acme Dental").execute()
    rows.appointment(title="Late Sunday", start=datetime(2030, 5, 13, 3, 0))  # Sun 12 May, 10 PM CDT
    html = client.get("/calendars/week?start=2030-05-08").get_data(as_text=True)
    assert days(html)["Sunday 12 May"] == ["Late Sunday"]


def test_filters_by_calendar_and_owner_and_only_this_subaccount(client, signed_in, rows, people):
    ben = people.user("ben@acme.test", name="Ben Host")
    people.subaccount("Other Clinic")
    rows.appointment(subaccount="Other Clinic", title="Theirs", start=datetime(2030, 5, 7, 9))
    rows.appointment(title="Ann's", start=datetime(2030, 5, 7, 10), owner=signed_in, calendar="Cleaning")
    rows.appointment(title="Ben's", start=datetime(2030, 5, 7, 11), owner=ben, calendar="Intro call")
    rows.appointment(title="By phone", start=datetime(2030, 5, 7, 12), source=Source.PORTAL)
    for view in ("week", "day", "month"):
        html = client.get(f"/calendars/{view}?start=2030-05-07").get_data(as_text=True)
        assert "Ann&#39;s" in html and "Ben&#39;s" in html and "By phone" in html and "Theirs" not in html
    html = client.get(f"/calendars/week?start=2030-05-07&owner={ben.id}").get_data(as_text=True)
    assert days(html)["Tuesday 7 May"] == ["Ben&#39;s"]
    html = client.get("/calendars/day?start=2030-05-07&calendar=portal").get_data(as_text=True)
    assert days(html)["Tuesday 7 May"] == ["By phone"]
    # A filter value that is not one of the options is ignored, not an error.
    assert client.get("/calendars/month?start=2030-05-07&owner=999999&calendar=nope").status_code == 200


def test_month_lists_three_a_day_and_links_the_rest_to_the_day(client, signed_in, rows):
    from datetime import timedelta
    for i in range(5):
        rows.appointment(title=f"Visit {i}", start=datetime(2030, 5, 7, 9) + timedelta(hours=i))
    html = client.get("/calendars/month?start=2030-05-20").get_data(as_text=True)
    assert "<h2 class=\"week-title\">May 2030</h2>" in html
    assert html.count('class="event-title">Visit') == 3
    assert '<a class="month-more" href="/calendars/day?start=2030-05-07">+2 more</a>' in html


def test_month_marks_every_booking_of_a_day_for_the_announcer_even_behind_more(client, signed_in, rows):
    from datetime import timedelta
    grace = rows.contact(name="Grace Hopper")
    made = [rows.appointment(title=f"Visit {i}", start=datetime(2030, 5, 7, 9) + timedelta(hours=i), contact=grace)
            for i in range(5)]
    cancelled = rows.appointment(title="Called off", start=datetime(2030, 5, 7, 16), status="cancelled")
    html = client.get("/calendars/month?start=2030-05-20").get_data(as_text=True)
    announced = dict(re.findall(r'data-announce-id="(\d+)" data-announce="([^"]*)"', html))
    assert sorted(announced) == sorted(str(a.id) for a in made)  # the two behind "+2 more" too, not the cancelled
    assert announced[str(made[4].id)] == "Visit 4 with Grace Hopper at 13:00 on Tue 7 May 2030"
    assert str(cancelled.id) not in announced


def test_the_calendars_page_says_when_none_are_imported(client, signed_in):
    html = client.get("/calendars/calendars").get_data(as_text=True)
    assert "No calendars imported yet." in html


def test_bad_dates_fall_back_with_a_message(client, signed_in):
    for view, what in (("day", "today"), ("month", "this month"), ("week", "this week")):
        html = client.get(f"/calendars/{view}?start=someday").get_data(as_text=True)
        assert f"so here is {what}." in html


def test_days_are_found_by_local_midnight_through_clock_changes():
    """Every start lands on the day its local clock shows, at midnight exactly too, in zones whose clocks change."""
    from datetime import timedelta
    for name, first in (("America/Chicago", date(2026, 3, 2)), ("America/Santiago", date(2026, 9, 1)),
                        ("Australia/Lord_Howe", date(2026, 10, 1)), ("Asia/Kolkata", date(2026, 1, 5))):
        tz = localtime.zone(name)
        begin = localtime.local_midnight_utc(first, tz)
        starts = [begin + timedelta(minutes=15 * n) for n in range(-8, 7 * 96 + 8)]
        starts += [localtime.local_midnight_utc(first + timedelta(days=n), tz) for n in range(7)]
        found = grid.by_local_day([item(i, s) for i, s in enumerate(starts)], first, 7, tz)
        for d, items in found.items():
            assert all(localtime.localize(a.start, tz).date() == d for a in items), (name, d)
        expected = sum(first <= localtime.localize(s, tz).date() < first + timedelta(days=7) for s in starts)
        assert sum(len(items) for items in found.values()) == expected, name


def test_an_event_link_escapes_the_booking_and_announces_only_live_ones():
    from markupsafe import Markup

    from portal.appointments import grid_html
    booked = SimpleNamespace(**vars(item(7, datetime(2030, 1, 15, 15, 0))), title='<b>"Intro" & co</b>',
                             contact_name="Ann O'Neil")
    cancelled = SimpleNamespace(**vars(item(8, datetime(2030, 1, 15, 17, 0))), title="Check-up", contact_name=None)
    cancelled.status = "cancelled"
    col = grid.lay_out_day(date(2030, 1, 15), [booked, cancelled], CHICAGO, grid.WEEK_LANES)
    html = grid_html.column_links(col, "/calendars/appointments/")
    assert isinstance(html, Markup)
    live, off = re.findall(r"<a [^>]*>.*?</a>", html)
    assert 'href="/calendars/appointments/7"' in live and "<b>" not in live
    assert 'title="&lt;b&gt;&#34;Intro&#34; &amp; co&lt;/b&gt;"' in live
    assert ('data-announce="&lt;b&gt;&#34;Intro&#34; &amp; co&lt;/b&gt; with Ann O&#39;Neil at 9:00 AM '
            'on Tue 15 Jan 2030"') in live
    assert '<span class="sr-only">9:00 AM–9:30 AM (Calendly)</span>' in live
    assert "cancelled" in off.split('"')[1] and "data-announce" not in off and "event-contact" not in off
    assert "(Calendly, cancelled)" in off
