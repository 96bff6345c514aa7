"""Booking pages: the event type's scheduling_url, confirmation, cancel and reschedule pages."""
import re
from html import unescape

import pytest
from sandbox_helpers import at


def csrf(html):
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def slots(html):
    return re.findall(r'name="start_time" value="([^"]+)"', html)


@pytest.fixture
def booking_world(admin):
    host = admin.user("host@example.com", name="Hana Host", plan="teams")
    admin.user("second@example.com", name="Sid Second", organization=host["organization"]["uri"])
    solo = admin.event_type("Consult", ["host@example.com"], custom_questions=[
        {"name": "Company", "type": "string", "required": True},
        {"name": "Team size", "type": "single_select", "answer_choices": ["1-10", "11+"]}])
    rr = admin.event_type("Pool", ["host@example.com", "second@example.com"], pooling_type="round_robin")
    return {"solo": solo, "rr": rr}


def book(client, slug, start=None, **fields):
    page = client.get(f"/book/{slug}").get_data(as_text=True)
    data = {"csrf_token": csrf(page), "start_time": start or slots(page)[0], "name": "Pat Lee",
            "email": "pat@example.com", **fields}
    return client.post(f"/book/{slug}", data=data)


def test_booking_page_lists_times_and_fields(sb_client, booking_world):
    resp = sb_client.get(f"/book/{booking_world['solo']['slug']}")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "Consult" in html and "Hana Host" in html
    for label in ('for="name">Name<', 'for="email">Email<', 'for="phone">Phone', 'for="guests">Guests',
                  'for="q_0">Company<', "Team size", "Schedule Event"):
        assert label in html
    times = slots(html)
    assert times and all(t.endswith("Z") for t in times)
    hours = {t[11:16] for t in times}
    assert hours <= {f"{h:02d}:{m:02d}" for h in range(9, 17) for m in (0, 30)}


def test_booking_creates_event_and_invitee(sb_client, api, admin, booking_world, token_for, send_due, receiver):
    token = token_for("host@example.com")["access_token"]
    me = api.get("/users/me", token).json["resource"]
    api.post("/webhook_subscriptions", token, {"url": receiver.url, "events": ["invitee.created"],
                                               "organization": me["current_organization"], "user": me["uri"],
                                               "scope": "user"})
    resp = book(sb_client, booking_world["solo"]["slug"], q_0="Acme", q_1="11+", phone="+1 555 0100",
                guests="a@example.com, b@example.com", utm_source="crm", timezone="Europe/Paris")
    assert resp.status_code == 302
    confirmation = sb_client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "You are scheduled" in confirmation and "Consult" in confirmation
    [event] = api.get("/scheduled_events", token, user=me["uri"]).json["collection"]
    assert [g["email"] for g in event["event_guests"]] == ["a@example.com", "b@example.com"]
    [inv] = api.get(event["uri"] + "/invitees", token).json["collection"]
    assert (inv["name"], inv["email"], inv["text_reminder_number"], inv["timezone"]) == (
        "Pat Lee", "pat@example.com", "+1 555 0100", "Europe/Paris")
    assert inv["questions_and_answers"] == [{"question": "Company", "answer": "Acme", "position": 0},
                                            {"question": "Team size", "answer": "11+", "position": 1}]
    assert inv["tracking"]["utm_source"] == "crm"
    send_due()
    assert len(receiver.wait_for(1)) == 1


def test_required_question_and_email_are_checked(sb_client, booking_world):
    resp = book(sb_client, booking_world["solo"]["slug"], email="nope")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 400 and "Enter a valid email address." in html and "Can&#39;t be blank." in html


def test_taken_slots_disappear_and_cannot_be_booked(sb_client, booking_world):
    slug = booking_world["solo"]["slug"]
    first = slots(sb_client.get(f"/book/{slug}").get_data(as_text=True))[0]
    assert book(sb_client, slug, start=first, q_0="Acme").status_code == 302
    assert first not in slots(sb_client.get(f"/book/{slug}").get_data(as_text=True))
    resp = book(sb_client, slug, start=first, q_0="Acme", email="other@example.com")
    assert resp.status_code == 400 and "no longer available" in resp.get_data(as_text=True)


def test_round_robin_offers_a_slot_until_every_host_is_busy(sb_client, api, booking_world, token_for):
    slug = booking_world["rr"]["slug"]
    first = slots(sb_client.get(f"/book/{slug}").get_data(as_text=True))[0]
    assert book(sb_client, slug, start=first).status_code == 302
    assert first in slots(sb_client.get(f"/book/{slug}").get_data(as_text=True))
    assert book(sb_client, slug, start=first, email="two@example.com").status_code == 302
    assert first not in slots(sb_client.get(f"/book/{slug}").get_data(as_text=True))
    hosts = set()
    for email in ("host@example.com", "second@example.com"):
        token = token_for(email)["access_token"]
        me = api.get("/users/me", token).json["resource"]
        events = api.get("/scheduled_events", token, user=me["uri"]).json["collection"]
        assert len(events) == 1 and len(events[0]["event_memberships"]) == 1
        hosts.add(events[0]["event_memberships"][0]["user_email"])
    assert hosts == {"host@example.com", "second@example.com"}


def test_cancel_page(sb_client, admin, booking_world):
    booked = admin.book(booking_world["solo"]["uri"], at(2))
    uuid = booked["invitee"].rsplit("/", 1)[1]
    page = sb_client.get(f"/cancellations/{uuid}").get_data(as_text=True)
    assert "Cancel Event" in page
    resp = sb_client.post(f"/cancellations/{uuid}", data={"csrf_token": csrf(page), "reason": "Busy"})
    assert "Cancellation Confirmed" in resp.get_data(as_text=True)


def test_reschedule_page(sb_client, admin, booking_world, token_for, api):
    booked = admin.book(booking_world["solo"]["uri"], at(2))
    uuid = booked["invitee"].rsplit("/", 1)[1]
    page = sb_client.get(f"/reschedulings/{uuid}").get_data(as_text=True)
    resp = sb_client.post(f"/reschedulings/{uuid}", data={"csrf_token": csrf(page), "start_time": slots(page)[0]})
    assert resp.status_code == 302
    new_uuid = resp.headers["Location"].rsplit("/", 1)[1]
    token = token_for("host@example.com")["access_token"]
    old = api.get(booked["invitee"], token).json["resource"]
    assert old["rescheduled"] is True and old["new_invitee"].endswith(new_uuid)


def test_unknown_booking_page_is_a_404_page(sb_client):
    resp = sb_client.get("/book/nope", headers={"Accept": "text/html"})
    assert resp.status_code == 404 and "Page not found" in unescape(resp.get_data(as_text=True))


def test_home_and_people_pages(sb_client, booking_world, admin):
    assert "Consult" in sb_client.get("/").get_data(as_text=True)
    slug = admin.call("GET", "/users", expect=200)["collection"][0]["user"]["slug"]
    assert "Consult" in sb_client.get(f"/people/{slug}").get_data(as_text=True)
