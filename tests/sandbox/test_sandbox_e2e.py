"""In a real browser: connect an app through the sign-in and consent pages, then book on the
booking page and receive the signed ``invitee.created``."""
import json
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from playwright.sync_api import expect
from sandbox_helpers import Admin, verify_signature

SHOTS = Path(__file__).resolve().parents[2] / "test-results" / "sandbox"


@pytest.mark.e2e
@pytest.mark.sandbox_config(SANDBOX_WEBHOOK_SENDER="thread")
def test_connect_then_book_in_the_browser(page, sb_live, receiver, contract_for):
    SHOTS.mkdir(parents=True, exist_ok=True)
    base = sb_live.url
    admin = Admin(url=base)
    admin.user("host@example.com", name="Hana Host", plan="professional")
    admin.event_type("Discovery Call", ["host@example.com"], description="Tell us what you need.",
                     custom_questions=[{"name": "Company", "type": "string", "required": True}])
    app = admin.call("POST", "/oauth_clients", {"name": "Acme CRM", "redirect_uris": [receiver.origin + "/callback"]},
                     expect=201)

    # Connect: sign in and consent in the browser; Authlib (PKCE S256) does the rest.
    oauth = OAuth2Session(app["client_id"], app["client_secret"], redirect_uri=receiver.origin + "/callback",
                          code_challenge_method="S256")
    verifier = generate_token(48)
    url, state = oauth.create_authorization_url(f"{base}/oauth/authorize", code_verifier=verifier)
    page.goto(url)
    expect(page.get_by_role("heading", name="Log in to your account")).to_be_visible()
    page.screenshot(path=str(SHOTS / "signin.png"), full_page=True)
    page.get_by_label("Email").fill("host@example.com")
    page.get_by_label("Password").fill("pw-host@example.com")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Allow")).to_be_visible()
    expect(page.get_by_text("Acme CRM would like to connect")).to_be_visible()
    page.screenshot(path=str(SHOTS / "consent.png"), full_page=True)
    page.get_by_role("button", name="Allow").click()
    expect(page.get_by_role("heading", name="Connected")).to_be_visible()
    assert parse_qs(urlsplit(page.url).query)["state"] == [state]
    token = oauth.fetch_token(f"{base}/oauth/token", authorization_response=page.url, code_verifier=verifier)
    me = oauth.get(f"{base}/users/me")
    contract_for(base).check_requests(me)
    me = me.json()["resource"]
    created = oauth.post(f"{base}/webhook_subscriptions", json={
        "url": receiver.url, "events": ["invitee.created", "invitee.canceled"],
        "organization": me["current_organization"], "user": me["uri"], "scope": "user"})
    assert created.status_code == 201
    contract_for(base).check_requests(created)
    event_types = oauth.get(f"{base}/event_types", params={"user": me["uri"]})
    contract_for(base).check_requests(event_types)
    scheduling_url = event_types.json()["collection"][0]["scheduling_url"]

    # Book as an invitee would.
    page.goto(scheduling_url)
    expect(page.get_by_role("heading", name="Discovery Call")).to_be_visible()
    page.get_by_role("radio").first.check()
    page.get_by_label("Name").fill("Jordan Rivera")
    page.get_by_label("Email").fill("jordan@example.com")
    page.get_by_label("Phone").fill("+1 555 0199")
    page.get_by_label("Guests").fill("sam@example.com")
    page.get_by_label("Company").fill("Rivera & Co")
    page.screenshot(path=str(SHOTS / "booking.png"), full_page=True)
    page.get_by_role("button", name="Schedule Event").click()
    expect(page.get_by_role("heading", name="You are scheduled")).to_be_visible()
    page.screenshot(path=str(SHOTS / "scheduled.png"), full_page=True)

    [hook] = receiver.wait_for(1, timeout=30)
    assert verify_signature(hook["body"], hook["headers"]["Calendly-Webhook-Signature"], app["webhook_signing_key"])
    body = json.loads(hook["body"])
    contract_for(base).check_payload(body)
    assert body["event"] == "invitee.created" and body["created_by"] == me["uri"]
    assert body["payload"]["email"] == "jordan@example.com" and body["payload"]["text_reminder_number"] == "+1 555 0199"
    assert body["payload"]["questions_and_answers"] == [{"question": "Company", "answer": "Rivera & Co",
                                                         "position": 0}]
    assert body["payload"]["scheduled_event"]["event_guests"][0]["email"] == "sam@example.com"
    assert token["owner"] == me["uri"]
