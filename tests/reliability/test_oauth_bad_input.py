"""Bad OAuth input: forged state, a reused code, foreign redirects, another Calendly user (SPEC C1, C3, C6).

The portal's connect flow is driven with the test client; the sandbox's
sign-in and consent pages are driven over HTTP like a browser would.
Nothing is kept unless every check passes, and the browser is never sent
off-site.
"""
import re
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import pytest
import requests

from portal.models import CalendlyConnection, Status
from sync.helpers import connect_via_sandbox

from .helpers import authorize

pytestmark = pytest.mark.reliability

CONNECT = "/calendars/settings/connections/calendly/connect"
CALLBACK = "/connections/calendly/callback"
FLASH = re.compile(r'<div class="flash flash-\w+" role="\w+">([^<]*)</div>')


@pytest.fixture
def ann(people, auth, sandbox):
    sandbox.create_user("ann@cal.test")
    sandbox.create_event_type("Intro call", hosts=["ann@cal.test"])
    user = people.user("ann@acme.test")
    assert auth.login("ann@acme.test").status_code == 302
    return user


def start(client):
    resp = client.post(CONNECT)
    assert resp.status_code == 302
    return resp.headers["Location"]


def callback(client, query):
    resp = client.get(CALLBACK, query_string=query)
    assert resp.status_code == 302
    assert browser_target(resp.headers["Location"], "http://localhost/").startswith("http://localhost/")
    return resp


def page_after(client, resp):
    return client.get(urlsplit(resp.headers["Location"]).path).get_data(as_text=True)


def messages(page):
    return FLASH.findall(page)


def browser_target(location, base):
    """Where a browser goes for a ``Location`` header (WHATWG URL parsing, as Chromium does it).

    Tabs and newlines are removed, leading/trailing spaces and controls
    stripped, and ``\\`` is a ``/`` in http(s) URLs: ``/\\evil.test`` is
    ``//evil.test``, another host.
    """
    cleaned = "".join(ch for ch in location if ch not in "\t\n\r").strip("\x00\x01\x02\x03\x04\x05\x06\x07\x08"
                                                                         "\x0b\x0c\x0e\x0f\x10\x11\x12\x13\x14"
                                                                         "\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d"
                                                                         "\x1e\x1f ")
    cleaned = cleaned.replace("\\", "/")
    scheme = urlsplit(cleaned).scheme.lower()
    if scheme in ("http", "https") and not cleaned[len(scheme) + 1:].startswith("//"):
        # "https:evil.test" is relative to a base with the same scheme, absolute otherwise.
        rest = cleaned[len(scheme) + 1:]
        cleaned = rest if urlsplit(base).scheme == scheme else f"{scheme}://{rest.lstrip('/')}"
    return urljoin(base, cleaned)


def test_forged_state_is_refused_and_the_code_is_never_spent(client, ann, stack, sandbox, reliability_report):
    start(client)
    stolen = authorize(stack, "ann@cal.test", url=None)  # a code for a request the portal never made
    before = len(sandbox.tokens())
    resp = callback(client, {"code": stolen["code"], "state": "forged-state"})
    assert any("could not verify this Calendly sign-in" in m for m in messages(page_after(client, resp)))
    assert CalendlyConnection.select().count() == 0
    assert len(sandbox.tokens()) == before  # the portal did not even exchange it
    reliability_report.check("OAuth: forged state", "refused with a message, code not exchanged, nothing kept")


def test_callback_replayed_after_success_changes_nothing(client, ann, stack, sandbox, reliability_report):
    answer = authorize(stack, "ann@cal.test", url=start(client))
    first = callback(client, {"code": answer["code"], "state": answer["state"]})
    assert "select=" in first.headers["Location"]
    (conn,) = CalendlyConnection.select()
    tokens = (conn.access_token, conn.refresh_token)

    again = callback(client, {"code": answer["code"], "state": answer["state"]})
    assert any("could not verify" in m for m in messages(page_after(client, again)))
    # The same code under a state the portal did issue: Calendly refuses the spent code.
    fresh = parse_qs(urlsplit(start(client)).query)["state"][0]
    spent = callback(client, {"code": answer["code"], "state": fresh})
    assert any("expired or was already used" in m for m in messages(page_after(client, spent)))

    (after,) = CalendlyConnection.select()
    assert (after.id, after.access_token, after.refresh_token, after.status) == (
        conn.id, *tokens, Status.PENDING)
    reliability_report.check("OAuth: reused authorization code", "refused with a message, connection unchanged")


NEXT_TARGETS = [
    "https://evil.test/", "//evil.test/", "///evil.test/", "/\\evil.test/", "\\\\evil.test/", "/\t/evil.test/",
    "https:evil.test", "http://localhost@evil.test/", " //evil.test", "javascript:alert(1)", "/%09/evil.test",
]


@pytest.mark.parametrize("target", NEXT_TARGETS)
def test_sign_in_next_never_leaves_the_site(client, people, target, reliability_report):
    people.user("ann@acme.test")
    resp = client.post("/signin?" + urlencode({"next": target}),
                       data={"email": "ann@acme.test", "password": "password123"})
    assert resp.status_code == 302
    assert urlsplit(browser_target(resp.headers["Location"], "http://localhost/signin")).netloc == "localhost", \
        resp.headers["Location"]
    reliability_report.check(f"Sign-in next={target!r}", "stays on the portal")


def test_connect_sends_calendly_only_our_registered_callback(client, ann, stack, reliability_report):
    query = parse_qs(urlsplit(start(client)).query)
    assert query["redirect_uri"] == [stack["portal_url"] + CALLBACK]
    evil = stack["sandbox_url"] + "/oauth/authorize?" + urlencode({
        "client_id": stack["creds"]["client_id"], "response_type": "code", "state": "s",
        "redirect_uri": "https://evil.test/steal", "code_challenge": "x" * 43, "code_challenge_method": "S256"})
    resp = requests.get(evil, allow_redirects=False, timeout=10)
    assert resp.status_code == 400 and "evil.test" not in resp.headers.get("Location", "")
    reliability_report.check("OAuth: unregistered redirect URI", "Calendly (sandbox) refuses it with 400")


def test_callback_ignores_a_foreign_next(client, ann, stack):
    answer = authorize(stack, "ann@cal.test", url=start(client))
    resp = callback(client, {"code": answer["code"], "state": answer["state"], "next": "https://evil.test/"})
    assert "evil.test" not in resp.headers["Location"]


def test_reconnecting_as_another_calendly_user_is_refused_and_changes_nothing(
        app_ctx, client, ann, stack, sandbox, people, reliability_report):
    conn = connect_via_sandbox(stack, ann, people.subaccount(), "ann@cal.test", ["Intro call"])
    CalendlyConnection.update(status=Status.RECONNECT_NEEDED, last_error="Calendly refused to renew access").where(
        CalendlyConnection.id == conn.id).execute()
    before = CalendlyConnection.get_by_id(conn.id)
    sandbox.create_user("mallory@cal.test")

    answer = authorize(stack, "mallory@cal.test", url=start(client))
    resp = callback(client, {"code": answer["code"], "state": answer["state"]})
    assert any("already have a Calendly account connected" in m for m in messages(page_after(client, resp)))

    after = CalendlyConnection.get_by_id(conn.id)
    fields = ("calendly_user_uri", "calendly_email", "access_token", "refresh_token", "status", "last_error",
              "signing_key", "webhook_subscription_uri")
    assert [getattr(after, f) for f in fields] == [getattr(before, f) for f in fields]
    assert CalendlyConnection.select().count() == 1
    mallory = [t for t in sandbox.tokens() if t["user"] != after.calendly_user_uri]
    assert mallory and all(t["revoked"] for t in mallory)  # the other account's new token was given back
    reliability_report.check("OAuth: reconnect returns another Calendly user",
                             "refused with a message, connection unchanged, the stray token revoked")


def test_the_callback_banner_says_our_own_words_for_each_oauth_error_never_the_providers(client, ann,
                                                                                       reliability_report):
    from portal.connections.views import OAUTH_ERROR_DEFAULT, OAUTH_ERROR_MESSAGES

    phishing = "Your account is suspended: call +1 555 0100 or visit evil.test to restore it"
    for code, words in [*OAUTH_ERROR_MESSAGES.items(), ("made_up_code", OAUTH_ERROR_DEFAULT),
                        ("<b>evil.test</b>", OAUTH_ERROR_DEFAULT)]:
        start(client)
        shown = messages(page_after(client, callback(client, {"error": code, "error_description": phishing,
                                                               "state": "x"})))
        assert shown == [words.replace("'", "&#39;")], (code, shown)
        assert "evil.test" not in " ".join(shown) and "555" not in " ".join(shown)
    assert not CalendlyConnection.select().exists()
    reliability_report.check("OAuth callback with an error and a phishing error_description",
                             f"{len(OAUTH_ERROR_MESSAGES) + 2} codes, each shown in our own words only")
