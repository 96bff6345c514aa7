"""Webhook subscriptions, signed deliveries, retries and the plan gate (API-FACTS §7)."""
import json
import time

import pytest
from sandbox_helpers import BASE, PORTAL_CLIENT, at, verify_signature

from sandbox import webhooks

APP_KEY = PORTAL_CLIENT["webhook_signing_key"]


def subscribe(api, world, who="solo", url="https://crm.example.com/hooks", scope="user", **extra):
    body = {"url": url, "events": ["invitee.created", "invitee.canceled"],
            "organization": world[who]["organization"]["uri"], "scope": scope, **extra}
    if scope == "user":
        body["user"] = world[who]["user"]["uri"]
    return api.post("/webhook_subscriptions", world[f"{who}_token"], body)


# ---------------------------------------------------------------- subscriptions API
def test_create_get_list_delete_subscription(api, admin, world):
    resp = subscribe(api, world)
    assert resp.status_code == 201
    sub = resp.json["resource"]
    assert resp.headers["Location"] == sub["uri"] and sub["uri"].startswith(f"{BASE}/webhook_subscriptions/")
    assert (sub["state"], sub["scope"], sub["retry_started_at"]) == ("active", "user", None)
    assert sub["creator"] == sub["user"] == world["solo"]["user"]["uri"]
    assert "signing_key" not in sub
    token = world["solo_token"]
    assert api.get(sub["uri"], token).json["resource"] == sub
    listed = api.get("/webhook_subscriptions", token, organization=world["solo"]["organization"]["uri"],
                     scope="user", user=world["solo"]["user"]["uri"]).json
    assert [s["uri"] for s in listed["collection"]] == [sub["uri"]]
    assert api.get(sub["uri"], world["owner_token"]).status_code == 404
    assert api.delete(sub["uri"], token).status_code == 204
    assert api.get(sub["uri"], token).status_code == 404
    [row] = admin.subscriptions()
    assert row["deleted"] is True and row["deleted_at"] and row["signing_key_set"] is False


def test_same_url_twice_is_409(api, world):
    assert subscribe(api, world).status_code == 201
    resp = subscribe(api, world)
    assert resp.status_code == 409
    assert resp.json == {"title": "Already Exists", "message": "Hook with this url already exists"}


def test_missing_fields_are_400_with_details(api, world):
    resp = api.post("/webhook_subscriptions", world["solo_token"], {"url": "https://x.example.com/h"})
    assert resp.status_code == 400 and resp.json["title"] == "Invalid Argument"
    assert {d["parameter"] for d in resp.json["details"]} == {"events", "organization", "scope"}
    assert all(d["message"] == "is missing" for d in resp.json["details"])
    resp = api.get("/webhook_subscriptions", world["solo_token"], scope="user")
    assert resp.status_code == 400
    assert {d["parameter"] for d in resp.json["details"]} == {"organization", "user"}


def test_basic_plan_cannot_subscribe(api, world):
    resp = subscribe(api, world, who="free")
    assert resp.status_code == 403
    assert resp.json == {"title": "Permission Denied", "message": "Please upgrade your Calendly account to Standard"}


def test_organization_scope_needs_admin(api, world):
    assert subscribe(api, world, who="member", scope="organization").status_code == 403
    resp = subscribe(api, world, who="owner", scope="organization", url="https://crm.example.com/org")
    assert resp.status_code == 201 and resp.json["resource"]["user"] is None
    listed = api.get("/webhook_subscriptions", world["member_token"],
                     organization=world["owner"]["organization"]["uri"], scope="organization")
    assert listed.status_code == 403


# ---------------------------------------------------------------- deliveries
def test_booking_delivers_signed_invitee_created(api, admin, world, receiver, send_due, contract):
    subscribe(api, world, url=receiver.url)
    booked = admin.book(world["chat"]["uri"], at(1), email="lead@example.com", guests=["g@example.com"])
    assert send_due() == 1
    [req] = receiver.wait_for(1)
    header = req["headers"]["Calendly-Webhook-Signature"]
    assert verify_signature(req["body"], header, APP_KEY)
    body = json.loads(req["body"])
    contract.check_payload(body)
    assert body["event"] == "invitee.created" and body["created_by"] == world["solo"]["user"]["uri"]
    payload = body["payload"]
    assert payload["uri"] == booked["invitee"] and payload["email"] == "lead@example.com"
    assert payload["scheduled_event"]["uri"] == booked["event"]
    assert payload["scheduled_event"]["event_memberships"][0]["user_email"] == "solo@example.com"
    [log] = admin.deliveries()
    assert (log["status_code"], log["attempt"], log["event"], log["invitee"], log["url"]) == (
        200, 1, "invitee.created", booked["invitee"], receiver.url)


def test_signature_rejects_tampering_and_old_timestamps(api, admin, world, receiver, send_due):
    subscribe(api, world, url=receiver.url)
    admin.book(world["chat"]["uri"], at(1))
    send_due()
    [req] = receiver.wait_for(1)
    header, raw = req["headers"]["Calendly-Webhook-Signature"], req["body"]
    assert verify_signature(raw, header, APP_KEY)
    assert not verify_signature(raw.replace(b"invitee.created", b"invitee.canceled"), header, APP_KEY)
    assert not verify_signature(raw, header, "another-key")
    assert not verify_signature(raw, header, APP_KEY, now=time.time() + 181)
    old = webhooks.signature_header(APP_KEY, raw, timestamp=time.time() - 600)
    assert not verify_signature(raw, old, APP_KEY)


def test_subscription_signing_key_overrides_the_app_key(api, admin, world, receiver, send_due):
    subscribe(api, world, url=receiver.url, signing_key="my-own-key")
    admin.book(world["chat"]["uri"], at(1))
    send_due()
    [req] = receiver.wait_for(1)
    assert verify_signature(req["body"], req["headers"]["Calendly-Webhook-Signature"], "my-own-key")
    assert not verify_signature(req["body"], req["headers"]["Calendly-Webhook-Signature"], APP_KEY)
    assert admin.subscriptions()[0]["signing_key_set"] is True


def test_cancel_and_reschedule_payloads(api, admin, world, receiver, send_due, contract):
    subscribe(api, world, url=receiver.url)
    first = admin.book(world["chat"]["uri"], at(1))
    moved = admin.reschedule(first["invitee"], at(2))
    admin.cancel(moved["invitee"], reason="No longer needed")
    send_due()
    bodies = [json.loads(r["body"]) for r in receiver.wait_for(4)]
    for body in bodies:
        contract.check_payload(body)
    assert [b["event"] for b in bodies] == ["invitee.created", "invitee.canceled", "invitee.created",
                                            "invitee.canceled"]
    old, new, gone = bodies[1]["payload"], bodies[2]["payload"], bodies[3]["payload"]
    assert old["uri"] == first["invitee"] and old["rescheduled"] is True and old["new_invitee"] == moved["invitee"]
    assert old["status"] == "canceled" and old["cancellation"]["canceler_type"] == "invitee"
    assert new["uri"] == moved["invitee"] and new["old_invitee"] == first["invitee"]
    assert new["scheduled_event"]["uri"] == moved["event"] != first["event"]
    assert gone["cancellation"]["reason"] == "No longer needed" and gone["canceled"] is True
    assert gone["scheduled_event"]["status"] == "canceled"


def test_organization_scope_covers_every_member_and_user_scope_only_the_host(api, admin, world, receiver, send_due):
    subscribe(api, world, who="owner", scope="organization", url=receiver.url + "?org")
    subscribe(api, world, who="member", scope="user", url=receiver.url + "?member")
    hosts = []
    for day in (1, 2):  # round robin: owner first, then member
        booked = admin.book(world["rr"]["uri"], at(day))
        hosts.append(api.get(booked["event"], world["owner_token"]).json["resource"]["event_memberships"][0]["user"])
    send_due()
    got = sorted(r["path"].split("?")[1] for r in receiver.wait_for(3))
    assert got == ["member", "org", "org"]
    assert hosts == [world["owner"]["user"]["uri"], world["member"]["user"]["uri"]]


def test_failures_retry_then_disable_the_subscription(api, admin, world, receiver, send_due):
    receiver.statuses = [500, 500, 500, 500]
    sub = subscribe(api, world, url=receiver.url).json["resource"]
    admin.book(world["chat"]["uri"], at(1))
    deadline = time.monotonic() + 30  # generous: 1.7 s of back-off, on a machine that may be busy
    while time.monotonic() < deadline and len(admin.deliveries()) < 4:
        send_due()
        time.sleep(0.05)
    attempts = admin.deliveries()
    assert [(a["attempt"], a["status_code"]) for a in attempts] == [(1, 500), (2, 500), (3, 500), (4, 500)]
    gaps = [time.mktime(time.strptime(a["sent_at"][:19], "%Y-%m-%dT%H:%M:%S")) for a in attempts]
    assert gaps[-1] - gaps[0] >= 1  # 0.2 + 0.5 + 1 seconds of back-off
    current = api.get(sub["uri"], world["solo_token"]).json["resource"]
    assert current["state"] == "disabled" and current["retry_started_at"] is not None
    # a disabled subscription gets nothing more
    admin.book(world["chat"]["uri"], at(2))
    send_due()
    assert len(admin.deliveries()) == 4


def test_a_success_clears_retry_started_at(api, admin, world, receiver, send_due):
    receiver.statuses = [503]
    sub = subscribe(api, world, url=receiver.url).json["resource"]
    admin.book(world["chat"]["uri"], at(1))
    send_due()
    assert api.get(sub["uri"], world["solo_token"]).json["resource"]["retry_started_at"] is not None
    time.sleep(0.25)
    send_due()
    current = api.get(sub["uri"], world["solo_token"]).json["resource"]
    assert (current["state"], current["retry_started_at"]) == ("active", None)
    assert [a["status_code"] for a in admin.deliveries()] == [503, 200]


def test_network_errors_are_logged_and_retried(api, admin, world, send_due):
    subscribe(api, world, url="http://127.0.0.1:9/closed")
    admin.book(world["chat"]["uri"], at(1))
    send_due()
    [log] = admin.deliveries()
    assert log["status_code"] is None and "ConnectionError" in log["error"]


def test_trial_lapsing_to_free_stops_deliveries(api, admin, world, receiver, send_due, token_for):
    trial = admin.user("trial@example.com", plan="teams", stage="trial")
    admin.event_type("Trial Call", ["trial@example.com"])
    world["trial"], world["trial_token"] = trial, token_for("trial@example.com")["access_token"]
    et = api.get("/event_types", world["trial_token"], user=trial["user"]["uri"]).json["collection"][0]
    assert subscribe(api, world, who="trial", url=receiver.url).status_code == 201
    admin.book(et["uri"], at(1))
    send_due()
    assert len(receiver.wait_for(1)) == 1
    lapsed = admin.patch_user(trial["user"]["uri"], stage="free")
    assert lapsed["organization"]["stage"] == "free"
    admin.book(et["uri"], at(2))
    send_due()
    time.sleep(0.1)
    assert len(receiver.requests) == 1
    assert admin.deliveries()[-1]["skipped"] == "plan"
    # and a new subscription is refused now
    resp = subscribe(api, world, who="trial", url=receiver.url + "2")
    assert resp.status_code == 403


def test_backdated_bookings_fire_nothing(api, admin, world, receiver, send_due):
    subscribe(api, world, url=receiver.url)
    admin.book(world["chat"]["uri"], at(1), created_at="2024-01-01T00:00:00Z")
    assert send_due() == 0


@pytest.mark.sandbox_config(SANDBOX_WEBHOOK_SENDER="thread")
def test_background_sender_delivers_without_help(api, admin, world, receiver):
    subscribe(api, world, url=receiver.url)
    admin.book(world["chat"]["uri"], at(1))
    [req] = receiver.wait_for(1, timeout=30)
    assert verify_signature(req["body"], req["headers"]["Calendly-Webhook-Signature"], APP_KEY)


def test_the_sender_is_woken_once_the_booking_is_committed_so_it_finds_the_delivery(sb_app, api, admin, world):
    """Woken inside the booking's transaction, the sender read nothing and slept until its next tick."""
    import threading

    from sandbox.store import WebhookJob, db

    subscribe(api, world, url="http://127.0.0.1:9/hooks")
    seen = []

    class Sender:  # stands where the background sender is; it counts the deliveries another thread can see
        def wake(self):
            def look():
                with db.connection_context():
                    seen.append(WebhookJob.select().where(WebhookJob.status == "pending").count())
            reader = threading.Thread(target=look)
            reader.start()
            reader.join()

        def stop(self):
            pass

    sb_app.extensions["sandbox"].sender = Sender()
    admin.book(world["chat"]["uri"], at(1))
    assert seen == [1]


def test_default_retry_schedule_adds_up_to_24_hours():
    schedule = webhooks.default_retry_schedule()
    assert schedule[:3] == [5, 25, 125] and sum(schedule) == 86400
