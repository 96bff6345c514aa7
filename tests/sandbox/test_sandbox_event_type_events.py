"""Event types change as in Calendly (API-FACTS §5, §7): the admin API creates, renames, deactivates and
deletes them, ``event_type.created|updated|deleted`` are delivered, and the API's listings follow."""
import json

from sandbox_helpers import at

EVENT_TYPE_EVENTS = ["event_type.created", "event_type.updated", "event_type.deleted"]


def subscribe(api, world, url):
    resp = api.post("/webhook_subscriptions", world["solo_token"], {
        "url": url, "events": EVENT_TYPE_EVENTS, "organization": world["solo"]["organization"]["uri"],
        "user": world["solo"]["user"]["uri"], "scope": "user"})
    assert resp.status_code == 201, resp.json
    assert resp.json["resource"]["events"] == EVENT_TYPE_EVENTS


def names(api, world, **params):
    listed = api.get("/event_types", world["solo_token"], user=world["solo"]["user"]["uri"], **params).json
    return [e["name"] for e in listed["collection"]]


def test_create_rename_deactivate_delete_fire_webhooks_and_change_listings(api, admin, world, receiver, send_due):
    subscribe(api, world, receiver.url)
    made = admin.event_type("Intro Call", ["solo@example.com"])
    uuid = made["uri"].rsplit("/", 1)[1]
    booked = admin.book(made["uri"], at(1))
    renamed = admin.call("PATCH", f"/event_types/{uuid}", {"name": "Discovery Call"}, expect=200)
    assert renamed["name"] == "Discovery Call" and renamed["active"] is True
    assert names(api, world) == ["Chat", "Discovery Call"]
    inactive = admin.call("PATCH", f"/event_types/{uuid}", {"active": False}, expect=200)
    assert inactive["active"] is False
    assert api.get(made["uri"], world["solo_token"]).json["resource"]["active"] is False
    assert names(api, world, active="true") == ["Chat"] and names(api, world, active="false") == ["Discovery Call"]
    deleted = admin.call("DELETE", f"/event_types/{uuid}", expect=200)
    assert deleted["deleted_at"]
    assert names(api, world) == ["Chat"]
    # Still readable by URI for the meetings that reference it (API-FACTS §5), and those meetings stay.
    fetched = api.get(made["uri"], world["solo_token"])
    assert fetched.status_code == 200 and fetched.json["resource"]["deleted_at"] == deleted["deleted_at"]
    assert api.get(booked["event"], world["solo_token"]).json["resource"]["event_type"] == made["uri"]
    send_due()
    bodies = [json.loads(r["body"]) for r in receiver.wait_for(4)]
    assert [b["event"] for b in bodies] == ["event_type.created", "event_type.updated", "event_type.updated",
                                            "event_type.deleted"]
    assert [b["payload"]["name"] for b in bodies] == ["Intro Call", "Discovery Call", "Discovery Call",
                                                      "Discovery Call"]
    assert [b["payload"]["active"] for b in bodies] == [True, True, False, False]
    assert bodies[-1]["payload"]["deleted_at"] == deleted["deleted_at"]
    assert all(b["payload"]["uri"] == made["uri"] for b in bodies)
    assert {d["resource"] for d in admin.deliveries()} == {made["uri"]}


def test_a_deleted_event_type_cannot_be_booked_or_changed(api, admin, world, sb_client):
    made = admin.event_type("Gone Soon", ["solo@example.com"])
    uuid = made["uri"].rsplit("/", 1)[1]
    admin.call("DELETE", f"/event_types/{uuid}", expect=200)
    assert sb_client.get("/book/" + made["slug"]).status_code == 404
    status, body = admin.call("POST", "/bookings", {"event_type": made["uri"], "start_time": at(1),
                                                    "invitee": {"name": "A", "email": "a@example.com"}})
    assert status == 404
    assert admin.call("PATCH", f"/event_types/{uuid}", {"name": "Back"})[0] == 404
    assert admin.call("DELETE", f"/event_types/{uuid}")[0] == 404


def test_event_type_patch_refuses_bad_fields(admin, world):
    uuid = world["chat"]["uri"].rsplit("/", 1)[1]
    status, body = admin.call("PATCH", f"/event_types/{uuid}", {"duration": 45})
    assert status == 400 and "duration" in body["error"]
    status, body = admin.call("PATCH", f"/event_types/{uuid}", {"name": "  "})
    assert status == 400 and "name" in body["error"]
    status, body = admin.call("PATCH", f"/event_types/{uuid}", {"active": "no"})
    assert status == 400 and "active" in body["error"]


def test_an_unchanged_patch_fires_nothing_and_others_are_not_told(api, admin, world, receiver, send_due):
    subscribe(api, world, receiver.url)
    uuid = world["chat"]["uri"].rsplit("/", 1)[1]
    admin.call("PATCH", f"/event_types/{uuid}", {"name": "Chat", "active": True}, expect=200)
    team = world["rr"]["uri"].rsplit("/", 1)[1]
    admin.call("PATCH", f"/event_types/{team}", {"name": "Team Demo 2"}, expect=200)  # not solo's event type
    assert send_due() == 0 and admin.deliveries() == []
