"""Fault injection and rate limiting (``/_sandbox/faults``)."""
import time

from sandbox_helpers import at


def test_drop_rate_one_delivers_nothing_but_the_event_is_listed(api, admin, world, receiver, send_due):
    admin.faults(webhook_drop_rate=1, seed=7)
    api.post("/webhook_subscriptions", world["solo_token"], {
        "url": receiver.url, "events": ["invitee.created"], "organization": world["solo"]["organization"]["uri"],
        "user": world["solo"]["user"]["uri"], "scope": "user"})
    booked = admin.book(world["chat"]["uri"], at(1))
    send_due()
    time.sleep(0.1)
    assert receiver.requests == []
    [log] = admin.deliveries()
    assert log["dropped"] is True and log["status_code"] is None
    send_due()  # dropped means never retried
    assert len(admin.deliveries()) == 1
    events = api.get("/scheduled_events", world["solo_token"], user=world["solo"]["user"]["uri"]).json["collection"]
    assert [e["uri"] for e in events] == [booked["event"]]


def test_rate_limit_override_makes_the_fourth_call_429(api, admin, world):
    admin.faults(rate_limit_per_minute=3)
    for remaining in ("2", "1", "0"):
        resp = api.get("/users/me", world["solo_token"])
        assert resp.status_code == 200 and resp.headers["X-RateLimit-Remaining"] == remaining
    resp = api.get("/users/me", world["solo_token"])
    assert resp.status_code == 429
    assert resp.headers["X-RateLimit-Limit"] == "3" and resp.headers["X-RateLimit-Remaining"] == "0"
    assert 0 < int(resp.headers["X-RateLimit-Reset"]) <= 60 and resp.headers["Retry-After"]
    assert resp.json["title"] == "Too Many Requests" and resp.json["message"]


def test_api_error_rate_answers_500(api, admin, world):
    admin.faults(api_error_rate=1)
    resp = api.get("/scheduled_events", world["solo_token"], user=world["solo"]["user"]["uri"])
    assert resp.status_code == 500 and resp.json["title"] == "Internal Server Error"
    admin.call("DELETE", "/faults", expect=200)
    assert api.get("/users/me", world["solo_token"]).status_code == 200


def test_seeded_error_rate_is_reproducible(api, admin, world):
    def run():
        admin.call("DELETE", "/faults", expect=200)
        admin.faults(api_error_rate=0.5, seed=42)
        return [api.get("/users/me", world["solo_token"]).status_code for _ in range(12)]

    first = run()
    assert set(first) == {200, 500} and run() == first


def test_webhook_delay(api, admin, world, receiver, send_due):
    admin.faults(webhook_delay_ms=300)
    api.post("/webhook_subscriptions", world["solo_token"], {
        "url": receiver.url, "events": ["invitee.created"], "organization": world["solo"]["organization"]["uri"],
        "user": world["solo"]["user"]["uri"], "scope": "user"})
    admin.book(world["chat"]["uri"], at(1))
    started = time.monotonic()
    send_due()
    assert time.monotonic() - started >= 0.3 and len(receiver.requests) == 1


def test_faults_get_post_delete_and_validation(admin):
    assert admin.call("GET", "/faults", expect=200) == {}
    assert admin.faults(webhook_drop_rate=0.5, webhook_delay_ms=10) == {"webhook_drop_rate": 0.5,
                                                                         "webhook_delay_ms": 10}
    assert admin.call("GET", "/faults", expect=200)["webhook_drop_rate"] == 0.5
    status, body = admin.call("POST", "/faults", {"webhook_drop_rate": 2})
    assert status == 400 and "between 0 and 1" in body["error"]
    status, body = admin.call("POST", "/faults", {"bogus": 1})
    assert status == 400
    assert admin.call("DELETE", "/faults", expect=200) == {}
