"""The Calendly API resources (API-FACTS §1, §2, §4-6), each response validated against the OpenAPI."""
import time

import pytest
from sandbox_helpers import BASE, at


# ---------------------------------------------------------------- auth
def test_missing_invalid_expired_and_revoked_tokens_are_401(api, admin, world):
    assert api.get("/users/me", None).json == {"title": "Unauthenticated", "message": "The access token is invalid"}
    assert api.get("/users/me", "nope").json["message"] == "The access token is invalid"
    admin.call("POST", "/tokens/expire", {"user": "solo@example.com"}, expect=200)
    resp = api.get("/users/me", world["solo_token"])
    assert resp.status_code == 401 and resp.json["message"] == "The access token is expired"
    admin.call("POST", "/tokens/revoke_all", {"user": "owner@example.com"}, expect=200)
    resp = api.get("/users/me", world["owner_token"])
    assert resp.status_code == 401 and resp.json["message"] == "The access token was revoked"
    assert all(t["revoked"] for t in admin.tokens() if t["user"] == world["owner"]["user"]["uri"])


def test_every_response_has_rate_limit_headers(api, world):
    for resp in (api.get("/users/me", world["solo_token"]), api.get("/users/me", "bad"),
                 api.get("/scheduled_events", world["solo_token"], count=500)):
        assert resp.headers["X-RateLimit-Limit"] == "500"
        assert int(resp.headers["X-RateLimit-Remaining"]) < 500
        assert 0 < int(resp.headers["X-RateLimit-Reset"]) <= 60


def test_free_plan_limit_is_50_per_minute(api, world):
    # The limit counts per clock minute: start early in one, so the 51 calls cannot straddle two windows.
    if time.time() % 60 > 40:
        time.sleep(61 - time.time() % 60)
    for _ in range(50):
        assert api.get("/users/me", world["free_token"]).status_code == 200
    resp = api.get("/users/me", world["free_token"])
    assert resp.status_code == 429
    assert resp.json["title"] == "Too Many Requests"
    assert resp.headers["X-RateLimit-Limit"] == "50" and resp.headers["X-RateLimit-Remaining"] == "0"
    assert int(resp.headers["Retry-After"]) > 0
    # other users are unaffected
    assert api.get("/users/me", world["solo_token"]).status_code == 200


# ---------------------------------------------------------------- users and organizations
def test_users_me_and_organization(api, world):
    me = api.get("/users/me", world["solo_token"]).json["resource"]
    assert me["uri"] == world["solo"]["user"]["uri"] and me["uri"].startswith(f"{BASE}/users/")
    assert me["email"] == "solo@example.com" and me["resource_type"] == "User" and me["locale"] == "en"
    assert me["current_organization"] == world["solo"]["organization"]["uri"]
    assert me["created_at"].endswith("Z") and len(me["created_at"]) == len("2020-01-02T03:04:05.678123Z")
    org = api.get(me["current_organization"], world["solo_token"]).json["resource"]
    assert (org["plan"], org["stage"], org["kind"]) == ("professional", "paid", "multiple")
    # another account's organization and user are not found
    assert api.get(world["owner"]["organization"]["uri"], world["solo_token"]).status_code == 404
    resp = api.get(world["owner"]["user"]["uri"], world["solo_token"])
    assert resp.status_code == 404 and resp.json["title"] == "Resource Not Found"
    assert api.get(world["member"]["user"]["uri"], world["owner_token"]).status_code == 200


def test_organization_memberships_by_user_and_by_organization(api, world):
    mine = api.get("/organization_memberships", world["member_token"], user=world["member"]["user"]["uri"]).json
    assert [m["role"] for m in mine["collection"]] == ["user"]
    assert mine["collection"][0]["organization"] == world["owner"]["organization"]["uri"]
    team = api.get("/organization_memberships", world["member_token"],
                   organization=world["owner"]["organization"]["uri"]).json["collection"]
    assert sorted(m["role"] for m in team) == ["owner", "user"]
    one = api.get("/organization_memberships", world["owner_token"], organization=world["owner"]["organization"]["uri"],
                  email="member@example.com").json["collection"]
    assert [m["user"]["email"] for m in one] == ["member@example.com"]
    resp = api.get("/organization_memberships", world["solo_token"])
    assert resp.status_code == 400 and resp.json["details"][0]["message"] == "is missing"
    assert api.get("/organization_memberships", world["solo_token"],
                   organization=world["owner"]["organization"]["uri"]).status_code == 403


# ---------------------------------------------------------------- event types
def test_event_types_of_a_user_include_shared_ones(api, admin, world):
    admin.event_type("Member Solo", ["member@example.com"], active=False)
    resp = api.get("/event_types", world["member_token"], user=world["member"]["user"]["uri"]).json
    assert [e["name"] for e in resp["collection"]] == ["Member Solo", "Team Demo"]
    rr = resp["collection"][1]
    assert (rr["pooling_type"], rr["kind"], rr["kind_description"], rr["type"]) == (
        "round_robin", "solo", "Round Robin", "StandardEventType")
    assert rr["profile"]["type"] == "Team" and rr["scheduling_url"] == f"{BASE}/book/{rr['slug']}"
    active = api.get("/event_types", world["member_token"], user=world["member"]["user"]["uri"], active="true").json
    assert [e["name"] for e in active["collection"]] == ["Team Demo"]
    desc = api.get("/event_types", world["member_token"], user=world["member"]["user"]["uri"], sort="name:desc").json
    assert [e["name"] for e in desc["collection"]] == ["Team Demo", "Member Solo"]
    chat = api.get("/event_types", world["solo_token"], user=world["solo"]["user"]["uri"]).json["collection"][0]
    assert chat["profile"] == {"type": "User", "name": "Solo", "owner": world["solo"]["user"]["uri"]}
    assert chat["kind_description"] == "One-on-One" and chat["pooling_type"] is None and chat["duration"] == 30


def test_event_types_by_organization_needs_admin(api, world):
    org = world["owner"]["organization"]["uri"]
    assert len(api.get("/event_types", world["owner_token"], organization=org).json["collection"]) == 1
    resp = api.get("/event_types", world["member_token"], organization=org)
    assert resp.status_code == 403 and resp.json["title"] == "Permission Denied"
    assert api.get("/event_types", world["solo_token"]).status_code == 400


def test_event_type_and_its_memberships(api, world):
    uri = world["rr"]["uri"]
    assert api.get(uri, world["member_token"]).json["resource"]["name"] == "Team Demo"
    assert api.get(uri, world["solo_token"]).status_code == 404
    hosts = api.get("/event_type_memberships", world["member_token"], event_type=uri).json["collection"]
    assert [h["member"]["email"] for h in hosts] == ["owner@example.com", "member@example.com"]
    assert hosts[0]["event_type"]["uri"] == uri
    assert api.get("/event_type_memberships", world["member_token"]).status_code == 400


# ---------------------------------------------------------------- scheduled events
def test_scheduled_events_filters_and_shapes(api, admin, world):
    first = admin.book(world["chat"]["uri"], at(1), email="a@example.com", guests=["g@example.com"],
                       questions_and_answers=[{"question": "Company", "answer": "Acme", "position": 0}])
    second = admin.book(world["chat"]["uri"], at(2), email="b@example.com")
    admin.cancel(second["invitee"], reason="Sick")
    token, user = world["solo_token"], world["solo"]["user"]["uri"]
    events = api.get("/scheduled_events", token, user=user).json["collection"]
    assert [e["uri"] for e in events] == [first["event"], second["event"]]
    ev = events[0]
    assert ev["event_memberships"] == [{"user": user, "user_email": "solo@example.com", "user_name": "Solo"}]
    assert ev["event_guests"][0]["email"] == "g@example.com"
    assert ev["invitees_counter"] == {"total": 1, "active": 1, "limit": 1}
    assert ev["location"]["type"] == "google_conference" and "cancellation" not in ev
    assert events[1]["status"] == "canceled"
    assert events[1]["cancellation"]["reason"] == "Sick" and events[1]["cancellation"]["canceler_type"] == "invitee"
    only = lambda **f: [e["uri"] for e in api.get("/scheduled_events", token, user=user, **f).json["collection"]]  # noqa
    assert only(status="active") == [first["event"]]
    assert only(status="canceled") == [second["event"]]
    assert only(invitee_email="b@example.com") == [second["event"]]
    assert only(min_start_time=at(2)) == [second["event"]]
    assert only(max_start_time=at(2)) == [first["event"]]
    assert only(sort="start_time:desc") == [second["event"], first["event"]]
    resp = api.get("/scheduled_events", token, user=user, status="nope")
    assert resp.status_code == 400 and resp.json["details"][0]["parameter"] == "status"


def test_scheduled_event_invitees(api, admin, world):
    booked = admin.book(world["chat"]["uri"], at(1), email="Ivy@Example.com", name="Ivy Invitee",
                        questions_and_answers=[{"question": "Company", "answer": "Acme", "position": 0}])
    token = world["solo_token"]
    ev = api.get(booked["event"], token).json["resource"]
    assert ev["uri"] == booked["event"]
    invitees = api.get(booked["event"] + "/invitees", token).json
    inv = invitees["collection"][0]
    assert inv["uri"] == booked["invitee"] and inv["email"] == "ivy@example.com" and inv["event"] == booked["event"]
    assert inv["questions_and_answers"] == [{"question": "Company", "answer": "Acme", "position": 0}]
    assert (inv["rescheduled"], inv["old_invitee"], inv["new_invitee"], inv["canceled"]) == (False, None, None, False)
    assert inv["cancel_url"].startswith(BASE) and inv["tracking"]["utm_source"] is None
    assert api.get(booked["invitee"], token).json["resource"] == inv
    assert api.get(booked["event"] + "/invitees", token, status="canceled").json["collection"] == []
    assert api.get(booked["event"] + "/invitees", token, email="ivy@example.com").json["collection"][0]["uri"] == \
        booked["invitee"]
    # other accounts cannot see it
    assert api.get(booked["event"], world["owner_token"]).status_code == 404
    assert api.get(booked["invitee"], world["owner_token"]).status_code == 404


def test_organization_scope_needs_admin_and_user_scope_is_yours(api, admin, world):
    booked = admin.book(world["rr"]["uri"], at(1))
    org, member = world["owner"]["organization"]["uri"], world["member"]["user"]["uri"]
    assert len(api.get("/scheduled_events", world["owner_token"], organization=org).json["collection"]) == 1
    resp = api.get("/scheduled_events", world["member_token"], organization=org)
    assert resp.status_code == 403
    resp = api.get("/scheduled_events", world["owner_token"], user=member)
    assert resp.status_code == 403 and "specify organization" in resp.json["message"]
    both = api.get("/scheduled_events", world["owner_token"], organization=org, user=member).json["collection"]
    hosts = [m["user"] for e in both for m in e["event_memberships"]]
    assert all(h == member for h in hosts)
    assert api.get(booked["event"], world["owner_token"]).status_code == 200  # admin of the org


def test_round_robin_lists_one_host_and_rotates(api, admin, world):
    hosts = []
    for day in (1, 2, 3, 4):
        booked = admin.book(world["rr"]["uri"], at(day))
        ev = api.get(booked["event"], world["owner_token"]).json["resource"]
        assert len(ev["event_memberships"]) == 1
        hosts.append(ev["event_memberships"][0]["user_email"])
    assert hosts == ["owner@example.com", "member@example.com"] * 2


def test_collective_lists_every_host(api, admin, world):
    col = admin.event_type("Panel", ["owner@example.com", "member@example.com"], pooling_type="collective")
    assert col["kind_description"] == "Collective"
    booked = admin.book(col["uri"], at(1))
    ev = api.get(booked["event"], world["member_token"]).json["resource"]
    assert [m["user_email"] for m in ev["event_memberships"]] == ["owner@example.com", "member@example.com"]


# ---------------------------------------------------------------- pagination
def test_keyset_pagination_is_stable_under_inserts(api, admin, world):
    for i in range(5):
        admin.book(world["chat"]["uri"], at(3, 9 + i), email=f"p{i}@example.com")
    token, user = world["solo_token"], world["solo"]["user"]["uri"]
    page1 = api.get("/scheduled_events", token, user=user, count=2).json
    assert page1["pagination"]["count"] == 2 and page1["pagination"]["previous_page"] is None
    next_url = page1["pagination"]["next_page"]
    assert next_url.startswith(f"{BASE}/scheduled_events?") and "user=" in next_url and "count=2" in next_url
    # an earlier event appears after page 1 was read: later pages do not shift
    admin.book(world["chat"]["uri"], at(2, 9), email="early@example.com")
    page2 = api.get(next_url, token).json
    page3 = api.get(page2["pagination"]["next_page"], token).json
    seen = [e["start_time"] for p in (page1, page2, page3) for e in p["collection"]]
    assert len(seen) == 5 and seen == sorted(seen) and len(set(seen)) == 5
    assert page3["pagination"]["next_page"] is None and page3["pagination"]["next_page_token"] is None
    back = api.get(page3["pagination"]["previous_page"], token).json
    assert [e["uri"] for e in back["collection"]] == [e["uri"] for e in page2["collection"]]
    back1 = api.get(back["pagination"]["previous_page"], token).json
    assert [e["uri"] for e in back1["collection"]] == [e["uri"] for e in page1["collection"]]


@pytest.mark.parametrize("count", ["0", "101", "x"])
def test_count_out_of_range_is_400(api, world, count):
    resp = api.get("/scheduled_events", world["solo_token"], user=world["solo"]["user"]["uri"], count=count)
    assert resp.status_code == 400
    assert resp.json["title"] == "Invalid Argument" and resp.json["details"][0]["parameter"] == "count"


def test_bad_page_token_is_400(api, world):
    resp = api.get("/scheduled_events", world["solo_token"], user=world["solo"]["user"]["uri"], page_token="zzz")
    assert resp.status_code == 400 and resp.json["details"][0]["parameter"] == "page_token"


def test_unknown_path_is_calendly_404(sb_client):
    resp = sb_client.get("/no_such_thing", headers={"Accept": "application/json"})
    assert resp.status_code == 404 and resp.json["title"] == "Resource Not Found"


def test_host_cancels_an_event_through_the_api(api, admin, world, receiver, send_due):
    api.post("/webhook_subscriptions", world["solo_token"], {
        "url": receiver.url, "events": ["invitee.canceled"], "organization": world["solo"]["organization"]["uri"],
        "user": world["solo"]["user"]["uri"], "scope": "user"})
    booked = admin.book(world["chat"]["uri"], at(1))
    resp = api.post(booked["event"] + "/cancellation", world["solo_token"], {"reason": "Host is ill"})
    assert resp.status_code == 201
    assert resp.json["resource"]["canceler_type"] == "host" and resp.json["resource"]["reason"] == "Host is ill"
    again = api.post(booked["event"] + "/cancellation", world["solo_token"], {})
    assert again.status_code == 403 and again.json["message"] == "Event is already canceled"
    send_due()
    [hook] = receiver.wait_for(1)
    assert b'"canceler_type":"host"' in hook["body"]


def test_non_string_uri_parameters_are_400(api, world):
    resp = api.post("/webhook_subscriptions", world["solo_token"], {
        "url": "https://x.example.com/h", "events": ["invitee.created"], "organization": 42, "scope": "organization"})
    assert resp.status_code == 400 and resp.json["details"][0]["parameter"] == "organization"


@pytest.mark.sandbox_config(SANDBOX_ENFORCE_SCOPES=True)
def test_scoped_tokens_are_limited_to_their_scopes(sb_app, api, admin):
    from sandbox import oauth, store

    admin.user("scoped@example.com")
    with sb_app.test_request_context(base_url=BASE):
        store.db.connect(reuse_if_open=True)
        user = store.User.get(store.User.email == "scoped@example.com")
        client = store.OAuthClient.get()
        token = oauth.issue_token(client, user, "users:read webhooks:write")["access_token"]
    assert api.get("/users/me", token).status_code == 200
    resp = api.get("/scheduled_events", token, user=api.get("/users/me", token).json["resource"]["uri"])
    assert resp.status_code == 403 and resp.json["title"] == "Permission Denied"
    listed = api.get("/webhook_subscriptions", token, organization=user_org(api, token), scope="organization")
    assert listed.status_code == 200  # webhooks:write implies webhooks:read


def user_org(api, token):
    return api.get("/users/me", token).json["resource"]["current_organization"]
