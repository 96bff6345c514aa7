"""The appointment page's Calendly parts in words (issue 16 item 7), from stored rows: no rule id, no API URI."""
import json
import re

import pytest

from portal.appointments.details import calendly_web_base
from page_text import without_tokens

RULE_ID = re.compile(r"\b[CWEODS][0-9]\b")


@pytest.mark.parametrize("config, base", [
    ({"CALENDLY_AUTH_BASE": "https://auth.calendly.com"}, "https://calendly.com"),
    ({"CALENDLY_AUTH_BASE": "http://localhost:5001/"}, "http://localhost:5001"),
    ({"CALENDLY_AUTH_BASE": "https://auth.calendly.com", "CALENDLY_APP_BASE": "https://eu.calendly.example/"},
     "https://eu.calendly.example"),
])
def test_open_in_calendly_goes_to_the_web_app_of_the_calendly_in_use(config, base):
    assert calendly_web_base(config) == base


def _hosts(*pairs):
    return json.dumps([{"name": n, "email": e} for n, e in pairs])


def test_a_round_robin_appointment_names_both_hosts_and_why_the_owner_was_drawn(client, signed_in, rows):
    a = rows.appointment(title="Team Intro", calendar="Team Intro", owner=signed_in,
                         owner_reason="O2: round robin, chosen among 2 members",
                         location_kind="physical", location_text="12 Main St, Chicago",
                         calendly_hosts=_hosts(("Ben Calendly", "ben@cal.test"), ("Cy Calendly", "cy@cal.test")))
    html = client.get(f"/calendars/appointments/{a.id}").get_data(as_text=True)
    assert "Calendly hosts</dt>" in html and "Ben Calendly" in html and "cy@cal.test" in html
    assert f"{signed_in.display_name} — chosen at random among the members who import Team Intro" in html
    assert "<strong>In person</strong>" in html and "12 Main St, Chicago" in html
    uuid = a.event_uri.rsplit("/", 1)[1]
    assert 'href="http://' in html and f"/app/scheduled_events/user/me?uuid={uuid}" in html
    assert a.event_uri not in html and not RULE_ID.search(html.split("<main", 1)[1])


def test_a_conference_without_its_link_yet_says_so_and_a_stored_script_link_is_not_a_link(client, signed_in, rows):
    waiting = rows.appointment(title="Waiting", location_kind="google_conference")
    html = client.get(f"/calendars/appointments/{waiting.id}").get_data(as_text=True)
    assert "<strong>Google Meet</strong>" in html and "Calendly has not given a meeting link yet." in html
    odd = rows.appointment(title="Odd", location_kind="custom", location_text="Online",
                           join_url="javascript:alert(1)")
    html = client.get(f"/calendars/appointments/{odd.id}").get_data(as_text=True)
    assert "javascript:" not in html and "Join the meeting" not in html


def test_when_no_member_imports_the_shared_calendar_the_owner_reason_says_whose_connection_brought_it(
        client, signed_in, rows):
    a = rows.appointment(title="Orphan", calendar="Team Intro", owner=signed_in,
                         owner_reason=f"O2: round robin, no member has it selected now; owner is {signed_in.display_name}")
    html = client.get(f"/calendars/appointments/{a.id}").get_data(as_text=True)
    assert (f"no member imports Team Intro now, so it went to {signed_in.display_name}, whose Calendly "
            "connection brought it") in html
    assert "O2" not in without_tokens(html)
