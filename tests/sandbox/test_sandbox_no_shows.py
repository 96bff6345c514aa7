"""Invitee no-shows (API-FACTS §6-7): the API and the admin API mark and undo them, the invitee's
``no_show`` follows, and ``invitee_no_show.created`` / ``.deleted`` are delivered with the invitee."""
import json

from sandbox_helpers import BASE, PORTAL_CLIENT, at

from sandbox import oauth, store

NO_SHOW_EVENTS = ["invitee_no_show.created", "invitee_no_show.deleted"]


def subscribe(api, world, url, who="solo"):
    resp = api.post("/webhook_subscriptions", world[f"{who}_token"], {
        "url": url, "events": NO_SHOW_EVENTS, "organization": world[who]["organization"]["uri"],
        "user": world[who]["user"]["uri"], "scope": "user"})
    assert resp.status_code == 201, resp.json
    return resp.json["resource"]


def invitee(api, world, uri):
    return api.get(uri, world["solo_token"]).json["resource"]


def test_api_no_show_create_get_delete_sets_the_invitee_and_fires_webhooks(api, admin, world, receiver, send_due):
    subscribe(api, world, receiver.url)
    booked = admin.book(world["chat"]["uri"], at(1))
    token = world["solo_token"]
    assert invitee(api, world, booked["invitee"])["no_show"] is None
    made = api.post("/invitee_no_shows", token, {"invitee": booked["invitee"]})
    assert made.status_code == 201
    no_show = made.json["resource"]
    assert no_show["invitee"] == booked["invitee"] and no_show["uri"].startswith(f"{BASE}/invitee_no_shows/")
    assert made.headers["Location"] == no_show["uri"]
    assert api.get(no_show["uri"], token).json["resource"] == no_show
    assert invitee(api, world, booked["invitee"])["no_show"] == {"uri": no_show["uri"],
                                                                  "created_at": no_show["created_at"]}
    send_due()
    [created] = receiver.wait_for(1)
    body = json.loads(created["body"])
    assert body["event"] == "invitee_no_show.created" and body["payload"]["uri"] == booked["invitee"]
    assert body["payload"]["no_show"]["uri"] == no_show["uri"] and body["payload"]["scheduled_event"]["uri"]
    assert api.delete(no_show["uri"], token).status_code == 204
    assert invitee(api, world, booked["invitee"])["no_show"] is None
    assert api.get(no_show["uri"], token).status_code == 404
    send_due()
    deleted = json.loads(receiver.wait_for(2)[1]["body"])
    assert deleted["event"] == "invitee_no_show.deleted" and deleted["payload"]["no_show"] is None


def test_admin_no_show_marks_and_undoes_with_the_same_webhooks(api, admin, world, receiver, send_due):
    subscribe(api, world, receiver.url)
    booked = admin.book(world["chat"]["uri"], at(2))
    uuid = booked["invitee"].rsplit("/", 1)[1]
    marked = admin.call("POST", f"/invitees/{uuid}/no_show", {}, expect=201)["no_show"]
    assert marked["invitee"] == booked["invitee"]
    assert invitee(api, world, booked["invitee"])["no_show"]["uri"] == marked["uri"]
    status, body = admin.call("POST", f"/invitees/{uuid}/no_show", {})
    assert status == 409 and "already" in body["error"]
    assert admin.call("DELETE", f"/invitees/{uuid}/no_show", expect=200) == {"invitee": booked["invitee"]}
    assert invitee(api, world, booked["invitee"])["no_show"] is None
    status, body = admin.call("DELETE", f"/invitees/{uuid}/no_show")
    assert status == 404 and "not marked" in body["error"]
    send_due()
    events = [json.loads(r["body"])["event"] for r in receiver.wait_for(2)]
    assert events == NO_SHOW_EVENTS
    assert [d["event"] for d in admin.deliveries()] == NO_SHOW_EVENTS


def test_no_show_events_reach_only_subscriptions_that_asked_for_them(api, admin, world, receiver, send_due):
    api.post("/webhook_subscriptions", world["solo_token"], {
        "url": receiver.url, "events": ["invitee.created"], "organization": world["solo"]["organization"]["uri"],
        "user": world["solo"]["user"]["uri"], "scope": "user"})
    booked = admin.book(world["chat"]["uri"], at(3))
    admin.call("POST", f"/invitees/{booked['invitee'].rsplit('/', 1)[1]}/no_show", {}, expect=201)
    send_due()
    assert [json.loads(r["body"])["event"] for r in receiver.wait_for(1)] == ["invitee.created"]


def test_api_no_show_refusals(api, admin, world, sb_app):
    booked = admin.book(world["chat"]["uri"], at(1))
    token = world["solo_token"]
    assert api.post("/invitee_no_shows", token, {"invitee": booked["invitee"]}).status_code == 201
    again = api.post("/invitee_no_shows", token, {"invitee": booked["invitee"]})
    assert again.status_code == 400 and again.json["details"][0]["parameter"] == "invitee"
    missing = api.post("/invitee_no_shows", token, {})
    assert missing.status_code == 400 and missing.json["details"] == [{"parameter": "invitee",
                                                                       "message": "is missing"}]
    # Someone who neither hosts the meeting nor administers its organization cannot see it.
    assert api.post("/invitee_no_shows", world["owner_token"], {"invitee": booked["invitee"]}).status_code == 404
    # A token with read access only may not mark no-shows.
    with sb_app.test_request_context(base_url=BASE):
        store.db.connect(reuse_if_open=True)
        user = store.User.get(store.User.email == "solo@example.com")
        client = store.OAuthClient.get(store.OAuthClient.client_id == PORTAL_CLIENT["client_id"])
        reader = oauth.issue_token(client, user, "scheduled_events:read")["access_token"]
    denied = api.post("/invitee_no_shows", reader, {"invitee": booked["invitee"]})
    assert denied.status_code == 403 and "scheduled_events:write" in denied.json["message"]
    no_show = invitee(api, world, booked["invitee"])["no_show"]
    assert api.get(no_show["uri"], reader).status_code == 200  # reading a no-show needs only :read
    assert api.delete(no_show["uri"], reader).status_code == 403
