"""The OAuth server end to end, with Authlib as the client (API-FACTS §3)."""
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session, OAuthError
from sandbox_helpers import PORTAL_CLIENT, Admin, Browser

from sandbox import store

REDIRECT = PORTAL_CLIENT["redirect_uris"][0]
INVALID_GRANT = ("The provided authorization grant is invalid, expired, revoked, does not match the redirection URI "
                 "used in the authorization request, or was issued to another client.")


@pytest.fixture
def live(sb_live):
    admin = Admin(url=sb_live.url)
    admin.user("owner@example.com", plan="teams")
    return sb_live


def session(live, secret=PORTAL_CLIENT["client_secret"], **kw):
    return OAuth2Session(PORTAL_CLIENT["client_id"], secret, redirect_uri=REDIRECT,
                         code_challenge_method="S256", **kw)


def authorize(live, oauth, decision="allow", verifier=None, **params):
    verifier = verifier or generate_token(48)
    url, state = oauth.create_authorization_url(f"{live.url}/oauth/authorize", code_verifier=verifier, **params)
    browser = Browser(live.url)
    signed_in = browser.sign_in("owner@example.com", "pw-owner@example.com", url)
    assert signed_in.status_code == 302
    return browser.consent(url, decision), state, verifier


def test_authorization_code_with_pkce_state_and_rotation(live, contract_for):
    oauth = session(live)
    callback, state, verifier = authorize(live, oauth)
    query = parse_qs(urlsplit(callback).query)
    assert callback.startswith(REDIRECT) and query["state"] == [state] and query["code"]
    token = oauth.fetch_token(f"{live.url}/oauth/token", authorization_response=callback, code_verifier=verifier)
    assert token["token_type"] == "Bearer" and token["expires_in"] == 7200 and token["scope"] == "default"
    assert token["owner"].startswith(f"{live.url}/users/") and token["organization"].startswith(
        f"{live.url}/organizations/")
    assert isinstance(token["created_at"], int) and token["access_token"].count(".") == 2
    # The token works on the API; the response matches the OpenAPI.
    me = oauth.get(f"{live.url}/users/me")
    contract_for(live.url).check_requests(me)
    assert me.json()["resource"]["uri"] == token["owner"]
    # Refresh rotates: a new pair, and the old refresh token is dead at once.
    old_refresh = token["refresh_token"]
    new = oauth.refresh_token(f"{live.url}/oauth/token", refresh_token=old_refresh)
    assert new["refresh_token"] != old_refresh and new["access_token"] != token["access_token"]
    with pytest.raises(OAuthError) as err:
        oauth.refresh_token(f"{live.url}/oauth/token", refresh_token=old_refresh)
    assert err.value.error == "invalid_grant" and err.value.description == INVALID_GRANT
    assert oauth.get(f"{live.url}/users/me").status_code == 200  # the new access token


def test_refresh_reuse_answers_400_json(live):
    oauth = session(live)
    callback, _, verifier = authorize(live, oauth)
    token = oauth.fetch_token(f"{live.url}/oauth/token", authorization_response=callback, code_verifier=verifier)
    body = {"grant_type": "refresh_token", "refresh_token": token["refresh_token"],
            "client_id": PORTAL_CLIENT["client_id"], "client_secret": PORTAL_CLIENT["client_secret"]}
    first = requests.post(f"{live.url}/oauth/token", json=body)  # JSON body + body credentials are accepted
    assert first.status_code == 200 and first.headers["Cache-Control"] == "no-store"
    again = requests.post(f"{live.url}/oauth/token", data=body)
    assert again.status_code == 400 and again.json() == {"error": "invalid_grant", "error_description": INVALID_GRANT}


def test_revoke_and_introspect(live, contract_for):
    oauth = session(live)
    callback, _, verifier = authorize(live, oauth, scope="users:read webhooks:write")
    token = oauth.fetch_token(f"{live.url}/oauth/token", authorization_response=callback, code_verifier=verifier)
    assert token["scope"] == "users:read webhooks:write"
    creds = (PORTAL_CLIENT["client_id"], PORTAL_CLIENT["client_secret"])
    info = requests.post(f"{live.url}/oauth/introspect", data={"token": token["access_token"]}, auth=creds).json()
    assert info["active"] is True and info["client_id"] == PORTAL_CLIENT["client_id"]
    assert info["owner"] == token["owner"] and info["organization"] == token["organization"]
    assert info["token_type"] == "Bearer" and info["exp"] - info["iat"] == 7200 and info["scope"] == token["scope"]
    revoked = requests.post(f"{live.url}/oauth/revoke", data={"token": token["refresh_token"], "client_id": creds[0],
                                                              "client_secret": creds[1]})
    assert revoked.status_code == 200 and revoked.content == b""
    for value in (token["access_token"], token["refresh_token"]):  # the pair dies together
        assert requests.post(f"{live.url}/oauth/introspect", data={"token": value}, auth=creds).json() == {
            "active": False}
    resp = requests.get(f"{live.url}/users/me", headers={"Authorization": f"Bearer {token['access_token']}"})
    contract_for(live.url).check_requests(resp)
    assert resp.status_code == 401 and resp.json()["message"] == "The access token was revoked"
    tokens = Admin(url=live.url).tokens()
    assert {(t["kind"], t["revoked"]) for t in tokens} == {("access", True), ("refresh", True)}
    assert "access_token" not in str(tokens) and token["access_token"] not in str(tokens)


def test_wrong_client_secret_is_invalid_client(live):
    oauth = session(live)
    callback, _, verifier = authorize(live, oauth)
    wrong = session(live, secret="not-the-secret")
    with pytest.raises(OAuthError) as err:
        wrong.fetch_token(f"{live.url}/oauth/token", authorization_response=callback, code_verifier=verifier)
    assert err.value.error == "invalid_client"
    resp = requests.post(f"{live.url}/oauth/token", data={"grant_type": "refresh_token", "refresh_token": "x"},
                         auth=(PORTAL_CLIENT["client_id"], "nope"))
    assert resp.status_code == 401 and resp.json()["error"] == "invalid_client"


def test_code_reuse_is_invalid_grant(live):
    oauth = session(live)
    callback, _, verifier = authorize(live, oauth)
    oauth.fetch_token(f"{live.url}/oauth/token", authorization_response=callback, code_verifier=verifier)
    with pytest.raises(OAuthError) as err:
        session(live).fetch_token(f"{live.url}/oauth/token", authorization_response=callback, code_verifier=verifier)
    assert err.value.error == "invalid_grant"


def test_pkce_mismatch_is_invalid_grant(live):
    oauth = session(live)
    callback, _, _ = authorize(live, oauth)
    with pytest.raises(OAuthError) as err:
        oauth.fetch_token(f"{live.url}/oauth/token", authorization_response=callback,
                          code_verifier=generate_token(48))
    assert err.value.error == "invalid_grant"


def test_redirect_uri_must_match_the_authorize_one(live):
    oauth = session(live)
    callback, _, verifier = authorize(live, oauth)
    code = parse_qs(urlsplit(callback).query)["code"][0]
    resp = requests.post(f"{live.url}/oauth/token", auth=(PORTAL_CLIENT["client_id"], PORTAL_CLIENT["client_secret"]),
                         data={"grant_type": "authorization_code", "code": code, "code_verifier": verifier,
                               "redirect_uri": "http://127.0.0.1:9/other"})
    assert resp.status_code == 400 and resp.json()["error"] == "invalid_grant"


def test_expired_code_is_invalid_grant(live):
    oauth = session(live)
    callback, _, verifier = authorize(live, oauth)
    with live.app.app_context(), store.db.connection_context():
        store.AuthorizationCode.update(expires_at=store.utcnow() - timedelta(seconds=1)).execute()
    with pytest.raises(OAuthError) as err:
        oauth.fetch_token(f"{live.url}/oauth/token", authorization_response=callback, code_verifier=verifier)
    assert err.value.error == "invalid_grant"


@pytest.mark.parametrize("params", [
    {"client_id": PORTAL_CLIENT["client_id"], "redirect_uri": "https://evil.example.com/cb"},
    {"client_id": "unknown-client", "redirect_uri": REDIRECT},
])
def test_unknown_client_or_redirect_uri_shows_an_error_and_never_redirects(live, params):
    resp = requests.get(f"{live.url}/oauth/authorize", params={**params, "response_type": "code", "state": "s"},
                        allow_redirects=False)
    assert resp.status_code == 400 and "Location" not in resp.headers
    assert "Invalid authorization request" in resp.text


def test_deny_redirects_with_access_denied(live):
    callback, state, _ = authorize(live, session(live), decision="deny")
    query = parse_qs(urlsplit(callback).query)
    assert query == {"error": ["access_denied"], "state": [state]}


def test_wrong_password_stays_on_sign_in(live):
    browser = Browser(live.url)
    url, _ = session(live).create_authorization_url(f"{live.url}/oauth/authorize", code_verifier=generate_token(48))
    resp = browser.sign_in("owner@example.com", "wrong", url)
    assert resp.status_code == 401 and "incorrect" in resp.text


def test_token_endpoint_errors(live):
    creds = (PORTAL_CLIENT["client_id"], PORTAL_CLIENT["client_secret"])
    resp = requests.post(f"{live.url}/oauth/token", data={"grant_type": "password"}, auth=creds)
    assert resp.status_code == 400 and resp.json()["error"] == "unsupported_grant_type"
    resp = requests.post(f"{live.url}/oauth/token", data={"grant_type": "authorization_code"}, auth=creds)
    assert resp.status_code == 400 and resp.json()["error"] == "invalid_request"
    resp = requests.post(f"{live.url}/oauth/token", data={"code": "x"}, auth=creds)
    assert resp.json()["error"] == "invalid_request"
    resp = requests.post(f"{live.url}/oauth/revoke", data={}, auth=creds)
    assert resp.status_code == 400 and resp.json()["error"] == "invalid_request"


def test_token_requests_are_counted_and_can_be_limited(live):
    admin = Admin(url=live.url)
    admin.faults(token_rate_limit_per_minute=1)
    oauth = session(live)
    callback, _, verifier = authorize(live, oauth)
    token = oauth.fetch_token(f"{live.url}/oauth/token", authorization_response=callback, code_verifier=verifier)
    resp = requests.post(f"{live.url}/oauth/token", data={"grant_type": "refresh_token",
                                                          "refresh_token": token["refresh_token"]},
                         auth=(PORTAL_CLIENT["client_id"], PORTAL_CLIENT["client_secret"]))
    assert resp.status_code == 429 and resp.json()["error"] == "rate_limited"
    admin.call("DELETE", "/faults", expect=200)
    assert oauth.refresh_token(f"{live.url}/oauth/token", refresh_token=token["refresh_token"])["access_token"]


def test_ninth_token_request_within_a_minute_is_429_with_rate_headers(live, contract_for):
    oauth = session(live)
    callback, _, verifier = authorize(live, oauth)
    token = oauth.fetch_token(f"{live.url}/oauth/token", authorization_response=callback, code_verifier=verifier)
    creds = (PORTAL_CLIENT["client_id"], PORTAL_CLIENT["client_secret"])
    refresh = token["refresh_token"]
    for number in range(2, 9):  # the code exchange was request 1
        resp = requests.post(f"{live.url}/oauth/token", auth=creds,
                             data={"grant_type": "refresh_token", "refresh_token": refresh})
        assert resp.status_code == 200, (number, resp.text)
        assert resp.headers["X-RateLimit-Limit"] == "8" and resp.headers["X-RateLimit-Remaining"] == str(8 - number)
        refresh = resp.json()["refresh_token"]
    ninth = requests.post(f"{live.url}/oauth/token", auth=creds,
                          data={"grant_type": "refresh_token", "refresh_token": refresh})
    contract_for(live.url).check_requests(ninth)
    assert ninth.status_code == 429 and ninth.json()["error"] == "rate_limited"
    assert ninth.headers["X-RateLimit-Limit"] == "8" and ninth.headers["X-RateLimit-Remaining"] == "0"
    assert 1 <= int(ninth.headers["X-RateLimit-Reset"]) <= 60 and ninth.headers["Retry-After"]
    # The refused request did not spend the refresh token: once the minute is over (here: counters reset) it works.
    Admin(url=live.url).call("DELETE", "/faults", expect=200)
    again = requests.post(f"{live.url}/oauth/token", auth=creds,
                          data={"grant_type": "refresh_token", "refresh_token": refresh})
    assert again.status_code == 200
