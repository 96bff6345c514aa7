"""Authorization scopes (API-FACTS §3): scoped and legacy OAuth clients, narrowing at authorize, the
consent page, and the 403 naming the missing scope on every endpoint."""
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from sandbox_helpers import Admin, Browser

from sandbox import scopes, store

REDIRECT = "http://127.0.0.1:9/scoped-callback"
CRM_SCOPES = ["users:read", "organizations:read", "event_types:read", "scheduled_events:read", "webhooks:read",
              "webhooks:write"]


@pytest.fixture
def live(sb_live):
    admin = Admin(url=sb_live.url)
    admin.user("owner@example.com", plan="teams")
    sb_live.admin = admin
    return sb_live


def register(live, client_id, scope_list=None):
    body = {"name": f"App {client_id}", "redirect_uris": [REDIRECT], "client_id": client_id,
            "client_secret": client_id + "-secret"}
    if scope_list is not None:
        body["scopes"] = scope_list
    return live.admin.call("POST", "/oauth_clients", body, expect=201)


def connect(live, client_id, contract_for, **params):
    """Sign in, allow, exchange the code: the token response (checked against the OAuth patch)."""
    oauth = OAuth2Session(client_id, client_id + "-secret", redirect_uri=REDIRECT, code_challenge_method="S256")
    verifier = generate_token(48)
    url, _ = oauth.create_authorization_url(f"{live.url}/oauth/authorize", code_verifier=verifier, **params)
    browser = Browser(live.url)
    assert browser.sign_in("owner@example.com", "pw-owner@example.com", url).status_code == 302
    callback = browser.consent(url)
    code = parse_qs(urlsplit(callback).query)["code"][0]
    resp = requests.post(f"{live.url}/oauth/token", auth=(client_id, client_id + "-secret"), data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT, "code_verifier": verifier})
    contract_for(live.url).check_requests(resp)
    assert resp.status_code == 200, resp.text
    return resp.json()


def call(live, contract_for, method, path, token, **kwargs):
    resp = requests.request(method, live.url + path, headers={"Authorization": f"Bearer {token}"}, **kwargs)
    contract_for(live.url).check_requests(resp)
    return resp


def test_scoped_client_gets_its_scopes_and_a_403_naming_a_missing_one(live, contract_for):
    register(live, "crm-app", [s for s in CRM_SCOPES if s != "scheduled_events:read"])
    token = connect(live, "crm-app", contract_for)
    assert token["scope"] == "users:read organizations:read event_types:read webhooks:read webhooks:write"
    access = token["access_token"]
    assert call(live, contract_for, "GET", "/users/me", access).status_code == 200
    assert call(live, contract_for, "GET", "/organizations/" + token["organization"].rsplit("/", 1)[1],
                access).status_code == 200
    denied = call(live, contract_for, "GET", "/scheduled_events", access, params={"user": token["owner"]})
    assert denied.status_code == 403
    assert denied.json() == {"title": "Permission Denied",
                             "message": "Insufficient scope. This request requires the scheduled_events:read scope."}
    # Subscribing to invitee events needs scheduled_events:read too; event type events need event_types:read.
    hook = {"url": "https://crm.example.com/h", "organization": token["organization"], "user": token["owner"],
            "scope": "user"}
    refused = call(live, contract_for, "POST", "/webhook_subscriptions", access,
                   json={**hook, "events": ["invitee.created", "event_type.updated"]})
    assert refused.status_code == 403 and "scheduled_events:read" in refused.json()["message"]
    made = call(live, contract_for, "POST", "/webhook_subscriptions", access, json={**hook, "events": [
        "event_type.created", "event_type.updated", "event_type.deleted"]})
    assert made.status_code == 201


def test_the_minimal_crm_set_reads_everything_the_import_needs(live, contract_for):
    register(live, "crm-full", CRM_SCOPES)
    token = connect(live, "crm-full", contract_for)
    access, owner = token["access_token"], token["owner"]
    for path, params in (("/users/me", {}), ("/event_types", {"user": owner}), ("/scheduled_events", {"user": owner}),
                         ("/organization_memberships", {"user": owner}),
                         ("/webhook_subscriptions", {"organization": token["organization"], "scope": "user",
                                                     "user": owner})):
        assert call(live, contract_for, "GET", path, access, params=params).status_code == 200, path
    # ...but not writes it did not ask for.
    resp = call(live, contract_for, "POST", "/invitee_no_shows", access, json={"invitee": owner})
    assert resp.status_code == 403 and "scheduled_events:write" in resp.json()["message"]


def test_scope_at_authorize_narrows_the_grant_and_write_implies_read(live, contract_for):
    register(live, "narrow-app", ["users:read", "organizations:read", "webhooks:write"])
    token = connect(live, "narrow-app", contract_for, scope="users:read webhooks:read")
    assert token["scope"] == "users:read webhooks:read"
    denied = call(live, contract_for, "GET", "/organization_memberships", token["access_token"],
                  params={"user": token["owner"]})
    assert denied.status_code == 403 and "organizations:read" in denied.json()["message"]
    creds = ("narrow-app", "narrow-app-secret")
    info = requests.post(f"{live.url}/oauth/introspect", data={"token": token["access_token"]}, auth=creds)
    contract_for(live.url).check_requests(info)
    assert info.json()["scope"] == "users:read webhooks:read"
    refreshed = requests.post(f"{live.url}/oauth/token", auth=creds, data={
        "grant_type": "refresh_token", "refresh_token": token["refresh_token"]})
    assert refreshed.status_code == 200 and refreshed.json()["scope"] == "users:read webhooks:read"


def test_asking_for_a_scope_the_client_lacks_sends_invalid_scope_back(live):
    register(live, "small-app", ["users:read"])
    url = (f"{live.url}/oauth/authorize?client_id=small-app&response_type=code&state=s1&"
           f"redirect_uri={REDIRECT}&scope=users:read+scheduled_events:read")
    resp = requests.get(url, allow_redirects=False)
    assert resp.status_code == 302
    query = parse_qs(urlsplit(resp.headers["Location"]).query)
    assert resp.headers["Location"].startswith(REDIRECT)
    assert query["error"] == ["invalid_scope"] and query["state"] == ["s1"] and query["error_description"]
    unknown = requests.get(url.replace("scheduled_events:read", "invitees:read"), allow_redirects=False)
    assert parse_qs(urlsplit(unknown.headers["Location"]).query)["error"] == ["invalid_scope"]


def test_consent_page_lists_the_requested_scopes_in_words(live):
    register(live, "words-app", CRM_SCOPES)
    url = f"{live.url}/oauth/authorize?client_id=words-app&response_type=code&redirect_uri={REDIRECT}"
    browser = Browser(live.url)
    browser.sign_in("owner@example.com", "pw-owner@example.com", url)
    page = browser.http.get(url).text
    for scope in CRM_SCOPES:
        assert scopes.CATALOG[scope] in page and f"<code>{scope}</code>" in page
    assert "Cancel scheduled events" not in page
    narrowed = browser.http.get(url + "&scope=users:read").text
    assert scopes.CATALOG["users:read"] in narrowed and scopes.CATALOG["webhooks:write"] not in narrowed


def test_legacy_client_keeps_default_full_access(live, contract_for):
    register(live, "legacy-app")
    token = connect(live, "legacy-app", contract_for)
    assert token["scope"] == "default"
    access = token["access_token"]
    for path, params in (("/users/me", {}), ("/scheduled_events", {"user": token["owner"]}),
                         ("/event_types", {"user": token["owner"]})):
        assert call(live, contract_for, "GET", path, access, params=params).status_code == 200
    info = requests.post(f"{live.url}/oauth/introspect", data={"token": access},
                         auth=("legacy-app", "legacy-app-secret")).json()
    assert info["scope"] == "default"


def test_a_new_app_without_scopes_can_read_nothing(live, contract_for):
    register(live, "empty-app", [])
    token = connect(live, "empty-app", contract_for)
    assert token["scope"] == ""
    resp = call(live, contract_for, "GET", "/users/me", token["access_token"])
    assert resp.status_code == 403 and "users:read" in resp.json()["message"]


def test_registering_an_unknown_scope_is_a_clear_400(live):
    status, body = live.admin.call("POST", "/oauth_clients", {"name": "x", "redirect_uris": [REDIRECT],
                                                              "scopes": ["invitees:read"]})
    assert status == 400 and "invitees:read" in body["error"]
    status, body = live.admin.call("POST", "/oauth_clients", {"name": "x", "redirect_uris": [REDIRECT],
                                                              "scopes": "users:read"})
    assert status == 400 and "list" in body["error"]


def test_every_api_endpoint_names_the_scope_it_needs(sb_app):
    api_endpoints = {rule.endpoint for rule in sb_app.url_map.iter_rules()
                     if rule.endpoint.split(".")[0] in ("api", "no_shows", "webhook_api")}
    assert api_endpoints and api_endpoints <= set(scopes.ENDPOINT_SCOPES)
    assert set(scopes.ENDPOINT_SCOPES.values()) <= set(scopes.CATALOG)


def test_an_older_sandbox_database_gains_the_new_columns(tmp_path):
    path = str(tmp_path / "old.db")
    store.init_db(path)
    with store.db.connection_context():
        store.db.execute_sql("ALTER TABLE oauthclient DROP COLUMN scopes")
    store.init_db(path)
    with store.db.connection_context():
        assert "scopes" in {c.name for c in store.db.get_columns("oauthclient")}
