"""Only support staff see the console (T1, T2), and it never shows a secret (S2)."""
import json

import pytest

from portal.models import DeliveryState, Outcome, SkipReason
from portal.support.redaction import redact

from .console_helpers import ACCESS_TOKEN, API, REFRESH_TOKEN, SIGNING_KEY


@pytest.fixture
def connection(build):
    return build.connection("alice@acme.test")


def _urls(connection_id):
    gets = [
        "/support/",
        "/support/?status=connected&q=acme",
        f"/support/connections/{connection_id}",
        "/support/trace?q=guest@example.com",
        "/support/audit",
        "/support/api/connections",
    ]
    posts = [
        f"/support/connections/{connection_id}/resync",
        f"/support/connections/{connection_id}/retry",
    ]
    return gets, posts


@pytest.mark.parametrize("role", ["user", "admin"])
def test_subaccount_users_and_admins_get_404_everywhere(role, connection, client, people, auth):
    people.user(f"{role}@acme.test", "Acme Dental", role=role)
    auth.login(f"{role}@acme.test")
    gets, posts = _urls(connection.id)
    for url in gets:
        assert client.get(url).status_code == 404, url
    for url in posts:
        assert client.post(url, data={"delivery": 1}).status_code == 404, url


def test_signed_out_visitors_are_sent_to_sign_in(connection, client):
    gets, posts = _urls(connection.id)
    for url in gets + posts:
        resp = client.post(url) if url in posts else client.get(url)
        assert resp.status_code == 302 and "/signin" in resp.headers["Location"], url


def test_support_staff_without_a_subaccount_land_on_the_console(client, people, auth):
    people.user("support@agency.test", subaccount=None, support=True)
    resp = auth.login("support@agency.test")
    resp = client.get("/", follow_redirects=True)
    html = resp.get_data(as_text=True)
    assert resp.request.path == "/support/"
    assert "Support console" in html and ">Dashboard<" not in html


def test_no_page_or_json_contains_a_token_key_or_secret(app, build, support_client, connection):
    """Known secret values are set on the connection; none may appear in anything rendered."""
    invitee = f"{API}/scheduled_events/EVT1/invitees/INV1"
    # Error texts that carry secrets, as a careless exception message might.
    connection.status = "error"
    connection.last_error = f"401 from Calendly with Authorization: Bearer {ACCESS_TOKEN}"
    connection.save()
    build.delivery(connection, DeliveryState.FAILED, invitee=invitee,
                   error=f"refresh failed: refresh_token={REFRESH_TOKEN}; key {SIGNING_KEY}",
                   body=json.dumps({"payload": {"uri": invitee, "email": "guest@example.com"}}))
    build.decision(connection, Outcome.SKIPPED, SkipReason.ERROR, "S2", invitee=invitee,
                   detail=f"S2: error while applying: client_secret={app.config['CALENDLY_CLIENT_SECRET']}")
    support_client.post(f"/support/connections/{connection.id}/resync")

    secrets = [ACCESS_TOKEN, REFRESH_TOKEN, SIGNING_KEY, connection.webhook_token,
               app.config["CALENDLY_CLIENT_SECRET"], app.config["CALENDLY_WEBHOOK_SIGNING_KEY"],
               app.config["SECRET_KEY"], app.config["ENCRYPTION_KEY"]]
    pages = [
        "/support/", f"/support/connections/{connection.id}", "/support/audit", "/support/api/connections",
        f"/support/trace?q={invitee}", "/support/trace?q=guest@example.com",
    ]
    for url in pages:
        resp = support_client.get(url)
        assert resp.status_code == 200, url
        body = resp.get_data(as_text=True)
        for secret in secrets:
            assert secret not in body, f"{url} shows a secret"
        if url != "/support/audit":
            assert "[redacted]" in body or url == "/support/", url


@pytest.mark.parametrize("text, expected", [
    ("Authorization: Bearer abc.DEF-123_x", "Authorization: Bearer [redacted]"),
    ('{"access_token": "tok123", "refresh_token":"r2"}', '{"access_token": "[redacted]", "refresh_token":"[redacted]"}'),
    ("grant_type=refresh_token&refresh_token=abcdef&client_secret=s3cr3t",
     "grant_type=refresh_token&refresh_token=[redacted]&client_secret=[redacted]"),
    ("Calendly is unavailable (503)", "Calendly is unavailable (503)"),
    (None, None),
])
def test_redact_masks_tokens_in_error_texts(text, expected):
    assert redact(text) == expected


def test_redact_masks_known_values_anywhere():
    assert redact("key=plainvalue123 in a sentence", ["plainvalue123"]) == "key=[redacted] in a sentence"
