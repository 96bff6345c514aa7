"""The week view: Monday to Sunday, appointments placed by day (UTC), prev/next weeks."""
import re
from datetime import datetime, timedelta

from portal.timeutil import utcnow


def day_sections(html):
    """{'Monday 6 May': [event titles]} from the rendered week."""
    sections = re.findall(r'<section class="day[^"]*" role="listitem" aria-label="([^"]+)"(.*?)</section>', html, re.S)
    return {label: re.findall(r'class="event-title">([^<]+)<', body) for label, body in sections}


def test_appointments_are_placed_on_their_day_with_their_time(client, signed_in, rows):
    rows.appointment(title="Monday early", start=datetime(2030, 5, 6, 8, 0))
    rows.appointment(title="Wednesday", start=datetime(2030, 5, 8, 14, 30))
    rows.appointment(title="Sunday late", start=datetime(2030, 5, 12, 23, 0))
    rows.appointment(title="Next Monday", start=datetime(2030, 5, 13, 0, 0))
    html = client.get("/calendars/week?start=2030-05-08").get_data(as_text=True)  # a Wednesday
    days = day_sections(html)
    assert list(days) == ["Monday 6 May", "Tuesday 7 May", "Wednesday 8 May", "Thursday 9 May",
                          "Friday 10 May", "Saturday 11 May", "Sunday 12 May"]
    assert days["Monday 6 May"] == ["Monday early"]
    assert days["Wednesday 8 May"] == ["Wednesday"]
    assert days["Sunday 12 May"] == ["Sunday late"]
    assert "Next Monday" not in html
    assert "14:30–15:00" in html
    assert 'href="/calendars/week?start=2030-04-29"' in html and 'href="/calendars/week?start=2030-05-13"' in html


def test_today_is_highlighted(client, signed_in):
    today = utcnow().date()
    html = client.get("/calendars/week").get_data(as_text=True)
    assert f'aria-label="{today:%A} {today.day} {today:%B}" aria-current="date"' in html
    assert html.count('aria-current="date"') == 1
    other = client.get(f"/calendars/week?start={(today + timedelta(days=14)).isoformat()}").get_data(as_text=True)
    assert 'aria-current="date"' not in other and ">This week</a>" in other


def test_a_bad_date_falls_back_to_this_week_with_a_message(client, signed_in):
    html = client.get("/calendars/week?start=tuesday").get_data(as_text=True)
    monday = utcnow().date() - timedelta(days=utcnow().weekday())
    assert "That isn&#39;t a date we understand" in html
    assert f'aria-label="Monday {monday.day} {monday:%B}"' in html


def test_week_only_shows_this_subaccount(client, signed_in, rows, people):
    people.subaccount("Other Clinic")
    rows.appointment(subaccount="Other Clinic", title="Theirs", start=datetime(2030, 5, 7, 9))
    rows.appointment(title="Ours", start=datetime(2030, 5, 7, 10))
    html = client.get("/calendars/week?start=2030-05-06").get_data(as_text=True)
    assert day_sections(html)["Tuesday 7 May"] == ["Ours"] and "Theirs" not in html
