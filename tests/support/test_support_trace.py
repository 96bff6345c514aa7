"""The booking trace: why a booking was or was not imported, across subaccounts (SPEC S2)."""
import json
from datetime import timedelta

import pytest

from portal.extensions import db
from portal.models import Appointment, Contact, DeliveryState, Outcome, SkipReason
from portal.support.trace import EMAIL, EVENT, INVITEE, TraceQueryError, classify

from .console_helpers import API, table_rows, text_of

EVENT_URI = f"{API}/scheduled_events/EVT100"
INVITEE_URI = f"{EVENT_URI}/invitees/INV100"
OTHER_INVITEE = f"{EVENT_URI}/invitees/INV200"


@pytest.fixture
def shared_booking(build):
    """One booking seen in two subaccounts: imported in one, skipped (W1) in the other."""
    alice = build.connection("alice@acme.test", "Acme Dental")
    bob = build.connection("bob@bright.test", "Bright Smiles")
    delivery = build.delivery(alice, DeliveryState.APPLIED, ago=timedelta(minutes=10), invitee=INVITEE_URI)
    build.decision(alice, invitee=INVITEE_URI, event=EVENT_URI, email="dana@example.com", rule="W2",
                   detail="W2: created while the calendar was selected (from 01 Jan)", delivery=delivery,
                   ago=timedelta(minutes=10))
    build.decision(bob, Outcome.SKIPPED, SkipReason.NOT_SELECTED, "W1", invitee=INVITEE_URI, event=EVENT_URI,
                   email="dana@example.com", detail="W1: event type Team demo is not a selected calendar",
                   via="reconcile", ago=timedelta(minutes=3))
    with db.connection_context():
        contact = Contact.create(subaccount=alice.subaccount_id, email="Dana@Example.com",
                                 email_normalized="dana@example.com", name="Dana")
        Appointment.create(subaccount=alice.subaccount_id, title="Team demo", start=build.now + timedelta(days=2),
                           end=build.now + timedelta(days=2, minutes=30), contact=contact, owner=alice.user_id,
                           invitee_uri=INVITEE_URI, event_uri=EVENT_URI, calendar_name="Team demo")
    return alice, bob


def _verdicts(html):
    start = html.index('aria-label="Outcome per subaccount"')
    return text_of(html[start:html.index("</ul>", start)].split(">", 1)[1])


@pytest.mark.parametrize("pasted, kind, value", [
    (INVITEE_URI, INVITEE, INVITEE_URI),
    (f" {INVITEE_URI}/ ", INVITEE, INVITEE_URI),
    (EVENT_URI + "?x=1", EVENT, EVENT_URI),
    ("  Dana@Example.COM ", EMAIL, "dana@example.com"),
])
def test_classify_understands_uris_and_emails(pasted, kind, value):
    assert classify(pasted) == (kind, value)


@pytest.mark.parametrize("pasted", ["", "   ", "hello", "https://calendly.com/alice/intro"])
def test_classify_refuses_what_cannot_name_a_booking(pasted):
    with pytest.raises(TraceQueryError):
        classify(pasted)


def test_trace_by_invitee_uri_explains_each_subaccount_with_rule_ids(shared_booking, support_client):
    html = support_client.get("/support/trace", query_string={"q": INVITEE_URI}).get_data(as_text=True)
    verdicts = _verdicts(html)
    assert "Imported in Acme Dental" in verdicts and "“Team demo”" in verdicts
    assert "Not imported in Bright Smiles: Calendar not selected" in verdicts
    assert "W1: event type Team demo is not a selected calendar" in verdicts
    steps = [row[1:] for row in table_rows(html)]  # without the time column
    assert [s[1].split(" · ")[0] for s in steps] == [
        "Webhook received invitee.created", "Decision via webhook", "Decision via reconcile"]
    assert steps[1][0] == "Acme Dental alice@acme.test" and steps[1][2] == "Imported"
    assert steps[1][3] == "W2 created while the calendar was selected (from 01 Jan)"
    assert steps[2][0] == "Bright Smiles bob@bright.test" and steps[2][2] == "Skipped Calendar not selected"
    assert steps[2][3] == "W1 event type Team demo is not a selected calendar"


def test_trace_by_event_uri_finds_every_invitee(shared_booking, build, support_client):
    alice, _ = shared_booking
    build.decision(alice, Outcome.SKIPPED, SkipReason.OUTSIDE_WINDOW, "W4", invitee=OTHER_INVITEE,
                   event=EVENT_URI, email="erin@example.com",
                   detail="W4: created while the calendar was deselected (Keep, 02 Jan–05 Jan)")
    html = support_client.get("/support/trace", query_string={"q": EVENT_URI}).get_data(as_text=True)
    text = text_of(html)
    assert "2 bookings found" in text
    assert INVITEE_URI in text and OTHER_INVITEE in text
    assert "Not imported in Acme Dental: Outside sync window" in text
    assert "W4: created while the calendar was deselected (Keep, 02 Jan–05 Jan)" in text


def test_trace_by_guest_email_is_case_insensitive(shared_booking, support_client):
    html = support_client.get("/support/trace", query_string={"q": " DANA@example.com "}).get_data(as_text=True)
    text = text_of(html)
    assert "1 booking found" in text and "Booking by dana@example.com" in text
    assert "Imported in Acme Dental" in text and "Not imported in Bright Smiles" in text


def test_trace_finds_a_failed_delivery_that_never_reached_a_decision(build, support_client):
    alice = build.connection("alice@acme.test")
    uri = f"{API}/scheduled_events/EVT9/invitees/INV9"
    body = json.dumps({"event": "invitee.created", "payload": {"uri": uri, "email": "fay@example.com"}})
    build.delivery(alice, DeliveryState.FAILED, invitee=uri, body=body, error="TransientError: Calendly 503")
    for q in (uri, "fay@example.com"):
        html = support_client.get("/support/trace", query_string={"q": q}).get_data(as_text=True)
        (step,) = table_rows(html)
        assert step[1] == "Acme Dental alice@acme.test"
        assert step[3] == "Failed" and step[4] == "TransientError: Calendly 503"


def test_trace_explains_what_to_paste_and_when_nothing_is_found(support_client):
    html = support_client.get("/support/trace", query_string={"q": "not a uri"}).get_data(as_text=True)
    assert "That is not a Calendly URI or an email address" in text_of(html)
    assert 'value="not a uri"' in html  # what was typed is kept
    html = support_client.get("/support/trace", query_string={"q": "ghost@example.com"}).get_data(as_text=True)
    assert "Nothing has reached Calbridge about “ghost@example.com”" in text_of(html)
    html = support_client.get("/support/trace").get_data(as_text=True)
    assert "Paste what the customer gave you" in html


def test_trace_htmx_returns_only_the_results(shared_booking, support_client):
    resp = support_client.get("/support/trace", query_string={"q": INVITEE_URI}, headers={"HX-Request": "true"})
    html = resp.get_data(as_text=True)
    assert html.lstrip().startswith("{%") is False and '<section id="trace-results"' in html
    assert "<html" not in html


def test_a_duplicate_after_an_import_still_reads_as_imported(build, support_client):
    alice = build.connection("alice@acme.test")
    uri = f"{API}/scheduled_events/EVT7/invitees/INV7"
    build.decision(alice, invitee=uri, rule="W2", ago=timedelta(hours=2))
    build.decision(alice, Outcome.SKIPPED, SkipReason.DUPLICATE, "W6", invitee=uri, detail="W6: already imported",
                   via="reconcile", ago=timedelta(hours=1))
    html = support_client.get("/support/trace", query_string={"q": uri}).get_data(as_text=True)
    verdicts = _verdicts(html)
    assert verdicts.startswith("✓ Imported in Acme Dental") and "Not imported" not in verdicts
    assert [r[3] for r in table_rows(html)] == ["Imported", "Skipped Duplicate"]
