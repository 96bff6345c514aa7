"""Bad webhook input is refused or recorded as rejected with its reason; nothing is applied (SPEC C7, W6).

Every case goes through the real intake (``POST /webhooks/calendly/<token>``);
afterwards every delivery the intake accepted is applied, as a worker would,
and the subaccount must still have no appointment.
"""
import json
import time

import pytest
import requests

from portal.calendly import signatures
from portal.models import Appointment, Contact, DeliveryState, Status, Subaccount, WebhookDelivery
from portal.pipeline import batches
from sync.helpers import booking, envelope, make_connection, post_delivery, select

pytestmark = pytest.mark.reliability

ET = "https://api.calendly.com/event_types/CLEANING"
KEY = "the-connection-signing-key"
DEEP = b"[" * 60000 + b"]" * 60000  # under the size limit, far past any JSON parser's nesting limit


@pytest.fixture
def conns(app, app_ctx, people, own_redis):
    app.config["REDIS_URL"] = own_redis.url  # no worker: the test applies what was accepted
    ada = people.user("ada@acme.test")
    bob = people.user("bob@acme.test")
    sub = Subaccount.get(name="Acme Dental")
    mine = make_connection(ada, sub, signing_key=KEY)
    select(mine, ET, "Cleaning")
    other = make_connection(bob, sub, signing_key="another-connections-key")
    gone = make_connection(people.user("cy@acme.test"), sub, signing_key="gone-key", status=Status.DISCONNECTED)
    return {"mine": mine, "other": other, "gone": gone}


def body_bytes(event="invitee.created", **fields):
    return json.dumps(envelope(booking(ET, **fields), event)).encode()


def post_raw(client, token, raw, header):
    headers = {"Content-Type": "application/json"}
    if header is not None:
        headers[signatures.HEADER] = header
    return client.post(f"/webhooks/calendly/{token}", data=raw, headers=headers)


def apply_everything_accepted():
    for d in list(WebhookDelivery.select().where(WebhookDelivery.state.in_(DeliveryState.PENDING))):
        batches.apply(d.id)


def only_delivery():
    (d,) = WebhookDelivery.select()
    return d


def signed(raw, key=KEY, t=None):
    return signatures.sign(key, raw, t=t)


# name: (how to send it, expected status, expected delivery state, words of the recorded reason)
def _cases():
    raw = body_bytes()
    return {
        "missing signature": (lambda c, k: post_raw(c, k["mine"].webhook_token, raw, None),
                              401, DeliveryState.REJECTED, "missing"),
        "malformed signature": (lambda c, k: post_raw(c, k["mine"].webhook_token, raw, "sha256=deadbeef"),
                                400, DeliveryState.REJECTED, "malformed"),
        "signature without v1": (lambda c, k: post_raw(c, k["mine"].webhook_token, raw, f"t={int(time.time())}"),
                                 400, DeliveryState.REJECTED, "malformed"),
        "non-ASCII digit timestamp": (lambda c, k: post_raw(c, k["mine"].webhook_token, raw, "t=\u00b2,v1=00"),
                                      400, DeliveryState.REJECTED, "malformed"),
        "another connection's key": (lambda c, k: post_raw(c, k["mine"].webhook_token, raw,
                                                           signed(raw, key="another-connections-key")),
                                     401, DeliveryState.REJECTED, "does not match"),
        "made-up key": (lambda c, k: post_raw(c, k["mine"].webhook_token, raw, signed(raw, key="guess")),
                        401, DeliveryState.REJECTED, "does not match"),
        "expired signature": (lambda c, k: post_raw(c, k["mine"].webhook_token, raw,
                                                    signed(raw, t=time.time() - 3600)),
                              401, DeliveryState.REJECTED, "tolerance"),
        "signature from the future": (lambda c, k: post_raw(c, k["mine"].webhook_token, raw,
                                                            signed(raw, t=time.time() + 3600)),
                                      401, DeliveryState.REJECTED, "tolerance"),
        "body changed after signing": (lambda c, k: post_raw(c, k["mine"].webhook_token,
                                                             raw.replace(b"ada@example.com", b"eve@example.com"),
                                                             signed(raw)),
                                       401, DeliveryState.REJECTED, "does not match"),
        "invalid JSON": (lambda c, k: post_raw(c, k["mine"].webhook_token, b"{not json", signed(b"{not json")),
                         400, DeliveryState.REJECTED, "not a JSON object"),
        "JSON that is not an object": (lambda c, k: post_raw(c, k["mine"].webhook_token, b"[1, 2]",
                                                             signed(b"[1, 2]")),
                                       400, DeliveryState.REJECTED, "not a JSON object"),
        "bytes that are not UTF-8": (lambda c, k: post_raw(c, k["mine"].webhook_token, b"\xff\xfe{}",
                                                           signed(b"\xff\xfe{}")),
                                     400, DeliveryState.REJECTED, "not a JSON object"),
        "deeply nested JSON": (lambda c, k: post_raw(c, k["mine"].webhook_token, DEEP, signed(DEEP)),
                               400, DeliveryState.REJECTED, "not a JSON object"),
        "deeply nested JSON without a signature": (lambda c, k: post_raw(c, k["mine"].webhook_token, DEEP, None),
                                                   401, DeliveryState.REJECTED, "missing"),
        "deeply nested JSON to an unknown subscription": (
            lambda c, k: post_raw(c, "no-such-webhook-token", DEEP, None), 404, DeliveryState.REJECTED,
            "no connection"),
        "unknown event type": (lambda c, k: post_delivery(c, k["mine"], {"event": "routing_form_submission.created",
                                                                         "payload": {"uri": "x"}}),
                               200, DeliveryState.SKIPPED, "not imported"),
        "no event at all": (lambda c, k: post_delivery(c, k["mine"], {"payload": {}}),
                            200, DeliveryState.SKIPPED, "not imported"),
        "booking without its scheduled event": (
            lambda c, k: post_delivery(c, k["mine"], {"event": "invitee.created",
                                                      "payload": {"uri": f"{ET}/x", "email": "a@b.c"}}),
            200, DeliveryState.REJECTED, "not a booking"),
        "booking with an unreadable start time": (
            lambda c, k: post_delivery(c, k["mine"], _with_event(start_time="next tuesday")),
            200, DeliveryState.REJECTED, "invalid start_time"),
        "unknown subscription": (lambda c, k: post_raw(c, "no-such-webhook-token", raw, signed(raw)),
                                 404, DeliveryState.REJECTED, "no connection"),
        "disconnected subscription": (lambda c, k: post_raw(c, k["gone"].webhook_token, raw,
                                                            signed(raw, key="gone-key")),
                                      410, DeliveryState.REJECTED, "removed"),
        "oversized body": (lambda c, k: post_raw(c, k["mine"].webhook_token, b"{" + b" " * (300 * 1024) + b"}",
                                                 None),
                           413, DeliveryState.REJECTED, "over the"),
    }


def _with_event(**event_fields):
    body = envelope(booking(ET))
    body["payload"]["scheduled_event"].update(event_fields)
    return body


CASES = _cases()


@pytest.mark.parametrize("case", list(CASES))
def test_bad_delivery_is_refused_or_rejected_with_a_reason_and_nothing_is_applied(client, conns, case,
                                                                                    reliability_report):
    send, status, state, reason = CASES[case]
    resp = send(client, conns)
    assert resp.status_code == status, resp.get_data(as_text=True)
    assert resp.is_json and resp.get_json()["message"]
    apply_everything_accepted()
    delivery = only_delivery()
    assert delivery.state == state and reason in (delivery.error or ""), (delivery.state, delivery.error)
    assert Appointment.select().count() == 0 and Contact.select().count() == 0
    if status == 413:
        assert delivery.body == ""  # an oversized body is not stored
    reliability_report.check(f"Webhook: {case}", f"HTTP {status}, recorded {state}, nothing applied")


def test_replayed_body_with_a_fresh_valid_signature_is_applied_once(client, conns, reliability_report):
    raw = body_bytes()
    assert post_raw(client, conns["mine"].webhook_token, raw, signed(raw)).status_code == 200
    apply_everything_accepted()
    time.sleep(1.1)  # a new timestamp, a new (valid) signature, the same body
    replay = post_raw(client, conns["mine"].webhook_token, raw, signed(raw))
    assert replay.status_code == 200 and replay.get_json()["message"] == "already received"
    apply_everything_accepted()
    states = sorted(d.state for d in WebhookDelivery.select())
    assert states == [DeliveryState.APPLIED, DeliveryState.DUPLICATE]
    assert Appointment.select().count() == 1
    reliability_report.check("Webhook: valid signature over a replayed body", "acknowledged, applied once")


def test_captured_delivery_replayed_later_is_refused(client, conns, app, reliability_report):
    raw = body_bytes()
    header = signed(raw, t=time.time() - app.config["WEBHOOK_TOLERANCE_SECONDS"] - 5)  # captured a while ago
    assert post_raw(client, conns["mine"].webhook_token, raw, header).status_code == 401
    assert Appointment.select().count() == 0
    reliability_report.check("Webhook: captured request replayed after the tolerance", "HTTP 401, nothing applied")


def test_oversized_chunked_body_over_http_is_refused_without_reading_it_all(app_ctx, conns, live_server, app):
    """No Content-Length (chunked): the intake stops reading at the limit."""
    limit = app.config["WEBHOOK_MAX_BODY_BYTES"]
    chunks = (b"x" * 65536 for _ in range(limit // 65536 + 4))
    resp = requests.post(f"{live_server}/webhooks/calendly/{conns['mine'].webhook_token}", data=chunks,
                         headers={"Content-Type": "application/json", signatures.HEADER: "t=1,v1=00"}, timeout=10)
    assert resp.status_code == 413
    delivery = only_delivery()
    assert delivery.state == DeliveryState.REJECTED and "over the" in delivery.error
    assert Appointment.select().count() == 0


def test_get_on_the_intake_is_not_a_delivery(client, conns):
    assert client.get(f"/webhooks/calendly/{conns['mine'].webhook_token}").status_code == 405
    assert WebhookDelivery.select().count() == 0
