"""Crafted ids, page numbers, cursors, dates and redirects give 404 or 400, never a 500 (issue 12, item 4).

Every route comes from ``app.url_map``, so a route added later is swept
without touching this file; each is tried with every method it allows,
signed in as a subaccount admin and as support staff.
"""
import re
from datetime import datetime

import pytest

from portal.keyset import encode_cursor
from portal.calendly import signatures
from portal.models import Subaccount
from sync.helpers import one_of_each

# A session cookie past what a browser keeps (it would sign the person out) fails the sweep.
pytestmark = [pytest.mark.reliability,
              pytest.mark.filterwarnings("error:The 'calbridge_session' cookie is too large:UserWarning")]

ARGUMENT = re.compile(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>")
OUT_OF_RANGE_IDS = ["99999999999999999999", str(2**63), str(2**64 + 5), "0", "1" * 400]
ODD_TEXT = ["99999999999999999999", "%0d%0aSet-Cookie:%20x=1", "x" * 3000]
HUGE = "9" * 400
BAD_CURSORS = [encode_cursor(datetime(2030, 1, 1), 2**63), encode_cursor("Zed", 10**20),
               encode_cursor(datetime(9999, 12, 31, 23, 59), -1), "A" * 5000]
BAD_QUERIES = [
    {"page": "99999999999999999999"}, {"page": str(2**63)}, {"page": HUGE}, {"page": "-3"},
    *({"after": c} for c in BAD_CURSORS), *({"before": c} for c in BAD_CURSORS),
    {"start": "9999-12-31"}, {"start": "0001-01-01"}, {"start": "99999-01-01"},
    {"select": "99999999999999999999"}, {"select": str(2**63)},
    {"next": "/dashboard\r\nSet-Cookie: evil=1"}, {"next": "/\\evil.test"},
    {"error": "server_error", "error_description": "x" * 5000}, {"timeline": HUGE, "v": HUGE, "q": "%" * 300},
]
BAD_FORM = {"subaccount_id": "99999999999999999999", "delivery": str(2**63), "job": "x" * 500,
            "start": "9999-12-31T23:59", "end": "9999-12-31T23:59", "title": "t", "page": HUGE,
            "event_type": "https://api.calendly.com/event_types/" + "9" * 30, "answer": "delete",
            "csrf_token": "x"}


def assert_not_a_crash(resp, what):
    """A 5xx is only one of the designed answers for an unreachable Calendly or Redis (502/503), never a 500."""
    assert resp.status_code < 500 or resp.status_code in (502, 503), f"{what}: {resp.status_code}"


def with_argument(rule, text):
    """``rule``'s path with every argument replaced by ``text`` (even where the converter would refuse it)."""
    return ARGUMENT.sub(lambda m: text, rule.rule)


def methods(rule):
    return sorted((rule.methods or set()) - {"HEAD", "OPTIONS"})


@pytest.fixture
def signed_in_users(app_ctx, people):
    """A subaccount admin with one object of every kind, and support staff; their ids for the routes."""
    alice = people.user("alice@acme.test", role="admin")
    people.user("staff@agency.test", subaccount=None, support=True)
    return one_of_each(alice, Subaccount.get(name="Acme Dental"), signing_key="acme-signing-key")


def sweep(app, client, ids):
    """Every route × method × bad value; returns the requests made, fails on the first 5xx."""
    made = 0
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if rule.endpoint == "static":
            continue
        for method in methods(rule):
            urls = []
            if rule.arguments:
                for name in rule.arguments:
                    converter = rule._converters[name]
                    bad = OUT_OF_RANGE_IDS if converter.__class__.__name__ == "DatabaseIdConverter" else ODD_TEXT
                    urls += [(with_argument(rule, text), converter) for text in bad]
                good = rule.build(ids, append_unknown=False)[1]
            else:
                good = rule.rule
            for url, converter in urls:
                resp = client.open(url, method=method, data=BAD_FORM)
                assert_not_a_crash(resp, f"{method} {url[:120]}")
                if converter.__class__.__name__ == "DatabaseIdConverter":
                    assert resp.status_code == 404, f"{method} {url[:120]}: {resp.status_code}"
                made += 1
            for query in BAD_QUERIES:
                for headers in ({}, {"HX-Request": "true"}):
                    resp = client.open(good, method=method, query_string=query, data=BAD_FORM, headers=headers)
                    assert_not_a_crash(resp, f"{method} {good} {str(query)[:120]}")
                    made += 1
    return made


@pytest.mark.portal_config(CALENDLY_MAX_ATTEMPTS=1, CALENDLY_RETRY_BACKOFF_SECONDS=0, CALENDLY_HTTP_TIMEOUT=1)
@pytest.mark.parametrize("who", ["alice@acme.test", "staff@agency.test"], ids=["subaccount admin", "support staff"])
def test_every_route_answers_crafted_ids_pages_cursors_and_dates_without_a_500(app, client, auth, signed_in_users,
                                                                               who, reliability_report):
    assert auth.login(who).status_code == 302
    made = sweep(app, client, signed_in_users)
    assert made > 500
    reliability_report.check(f"Input bounds ({'support staff' if 'staff' in who else 'subaccount admin'})",
                             f"{made} crafted requests over every route, none 5xx; out-of-range ids 404")


def test_out_of_range_ids_in_urls_are_not_found(client, auth, signed_in_users):
    auth.login("alice@acme.test")
    for path in ("/calendars/appointments/", "/contacts/"):
        for text in ("99999999999999999999", str(2**63)):
            resp = client.get(path + text)
            assert resp.status_code == 404 and "find that page" in resp.get_data(as_text=True)
    assert client.get(f"/calendars/appointments/{signed_in_users['appointment_id']}").status_code == 200


def test_a_date_outside_the_calendar_shows_this_week_with_a_message(client, auth, signed_in_users):
    auth.login("alice@acme.test")
    resp = client.get("/calendars/week?start=9999-12-31")
    text = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "isn&#39;t a date we understand (YYYY-MM-DD" in text
    assert client.get("/calendars/week?start=2999-12-31").status_code == 200  # the last day still works


def test_a_next_with_a_line_break_is_not_followed(client, people):
    people.user("alice@acme.test")
    resp = client.post("/signin?next=/contacts/%0d%0aSet-Cookie:%20evil=1",
                       data={"email": "alice@acme.test", "password": "password123"})
    assert resp.status_code == 302
    assert resp.headers["Location"] == "/dashboard" and "evil" not in str(resp.headers)


def test_a_signature_time_of_hundreds_of_digits_is_refused_not_fatal(client, app, signed_in_users):
    body = b'{"event": "invitee.created", "payload": {}}'
    mac = signatures.sign("acme-signing-key", body).split("v1=")[1]
    resp = client.post(f"/webhooks/calendly/{signed_in_users['webhook_token']}", data=body,
                       headers={signatures.HEADER: f"t={'9' * 400},v1={mac}", "Content-Type": "application/json"})
    assert resp.status_code in (400, 401, 403)
    assert not signatures.verify(f"t={'9' * 309},v1={mac}", body, "acme-signing-key")
