"""Deliveries out of order and more than once (SPEC E4, W6).

Calendly promises neither order nor exactly-once: ``invitee.canceled`` may
arrive before its ``invitee.created``, a retry repeats a body byte for
byte, and a second subscription sends the same news in a different
envelope. Whatever the order, the appointment ends as it would have in
order, with Reflect cancellations off (it stays booked) and on (it ends
cancelled, a rescheduled one linked to its replacement).
"""
import itertools
import json
import time
from dataclasses import replace

import pytest

from datetime import timedelta

from portal.models import Appointment, DeliveryState, Subaccount, WebhookDelivery
from portal.pipeline import batches
from portal.timeutil import utcnow
from sync.helpers import booking, envelope, make_connection, post_delivery, select

from .helpers import tally

pytestmark = pytest.mark.reliability

ET = "https://api.calendly.com/event_types/CLEANING"
BOOKED_AT = utcnow().replace(microsecond=0) - timedelta(minutes=5)
START = BOOKED_AT.replace(minute=0, second=0) + timedelta(days=2)


@pytest.fixture
def conn(app, app_ctx, people, own_redis):
    app.config["REDIS_URL"] = own_redis.url  # no worker listens: the test applies deliveries in its order
    ada = people.user("ada@acme.test")
    c = make_connection(ada, Subaccount.get(name="Acme Dental"), signing_key="order-signing-key")
    select(c, ET, "Cleaning")
    return c


def set_reflect(on):
    Subaccount.update(reflect_cancellations=on).where(Subaccount.name == "Acme Dental").execute()


def deliver(client, conn, bodies):
    """POST ``bodies`` in this order, then apply what the intake accepted in arrival order."""
    for body in bodies:
        assert post_delivery(client, conn, body).status_code == 200
    pending = WebhookDelivery.select().where(WebhookDelivery.state.in_(DeliveryState.PENDING)).order_by(
        WebhookDelivery.id)
    for delivery in list(pending):
        batches.apply(delivery.id)


def outcome(invitee_uri):
    """What a user sees of one booking: the appointment, its contact and its reschedule link."""
    rows = list(Appointment.select().where(Appointment.invitee_uri == invitee_uri))
    if not rows:
        return None
    (a,) = rows
    return {
        "title": a.title, "start": a.start, "end": a.end, "status": a.status,
        "cancelled": a.cancelled_at is not None, "calendar": a.calendar_name, "owner": a.owner_id,
        "contact owner": a.contact.assigned_user_id, "guests": a.guests.count(),
        "rescheduled_to": a.rescheduled_to.invitee_uri if a.rescheduled_to_id else None,
        "sources": a.sources.count(),
    }


def variant(body, n):
    """The same news in another envelope (another subscription, another moment)."""
    other = json.loads(json.dumps(body))
    other["created_at"] = f"2030-01-01T00:00:{n:02d}.000000Z"
    return other


def single_booking(tag):
    b = booking(ET, invitee=f"INV-{tag}", event=f"EV-{tag}", email=f"{tag.lower()}@example.com",
                name=f"Guest {tag}", created_at=BOOKED_AT, start=START)
    return envelope(b, "invitee.created"), envelope(b, "invitee.canceled"), b.invitee_uri


ORDERS = sorted(set(itertools.permutations("CCXX")))  # C: invitee.created, X: invitee.canceled


@pytest.mark.parametrize("reflect", [False, True], ids=["reflect-off", "reflect-on"])
def test_cancellation_before_creation_and_duplicates_end_as_in_order(client, conn, reflect, reliability_report):
    started = time.monotonic()
    set_reflect(reflect)
    created, canceled, reference = single_booking("REF")
    deliver(client, conn, [created, canceled])
    expected = outcome(reference)
    assert expected is not None
    assert (expected["status"] == "cancelled") is reflect

    uris = [reference]
    for i, order in enumerate(ORDERS):
        created, canceled, uri = single_booking(f"P{i}")
        uris.append(uri)
        bodies, seen = [], {"C": 0, "X": 0}
        for kind in order:
            body = created if kind == "C" else canceled
            bodies.append(body if seen[kind] == 0 else variant(body, i))  # the second one in another envelope
            seen[kind] += 1
        bodies += [created, canceled]  # and Calendly's retries of both, byte for byte
        deliver(client, conn, bodies)
        got = outcome(uri)
        assert got is not None, f"order {''.join(order)}: not imported"
        assert got == expected, f"order {''.join(order)}"

    figures = tally(uris)
    assert figures["missing"] == [] and figures["duplicated"] == 0
    assert WebhookDelivery.select().where(WebhookDelivery.state == DeliveryState.DUPLICATE).count() == 2 * len(ORDERS)
    name = f"Out of order and duplicated (reflect {'on' if reflect else 'off'})"
    reliability_report.record(
        name, sent=len(uris), faults="canceled before created, re-sent and replayed deliveries",
        faults_injected=len(ORDERS) * 4, appointments=figures["appointments"], lost=figures["lost"],
        duplicated=figures["duplicated"], seconds=time.monotonic() - started,
        notes=[f"every one of the {len(ORDERS)} orders of created/canceled ×2 plus byte-for-byte replays "
               "ends exactly as created-then-canceled"],
    )


@pytest.mark.parametrize("reflect", [False, True], ids=["reflect-off", "reflect-on"])
def test_reschedule_in_any_order_links_the_same_way(client, conn, reflect):
    set_reflect(reflect)

    def reschedule(tag):
        old = booking(ET, invitee=f"OLD-{tag}", event=f"EVO-{tag}", email=f"{tag.lower()}@example.com",
                      name="Grace", created_at=BOOKED_AT, start=START)
        new = replace(booking(ET, invitee=f"NEW-{tag}", event=f"EVN-{tag}", email=f"{tag.lower()}@example.com",
                              name="Grace", created_at=BOOKED_AT + timedelta(minutes=1),
                              start=START + timedelta(days=1)), old_invitee_uri=old.invitee_uri)
        moved = replace(old, rescheduled=True, new_invitee_uri=new.invitee_uri)
        bodies = {"old+": envelope(old, "invitee.created"), "old-": envelope(moved, "invitee.canceled"),
                  "new+": envelope(new, "invitee.created")}
        return bodies, old.invitee_uri, new.invitee_uri

    bodies, old_ref, new_ref = reschedule("REF")
    deliver(client, conn, [bodies["old+"], bodies["old-"], bodies["new+"]])
    expected = (outcome(old_ref), outcome(new_ref))
    assert expected[0]["rescheduled_to"] == (new_ref if reflect else None)

    for i, order in enumerate(itertools.permutations(["old+", "old-", "new+"])):
        bodies, old_uri, new_uri = reschedule(f"R{i}")
        deliver(client, conn, [bodies[k] for k in order] + [variant(bodies[k], i) for k in reversed(order)])
        got_old, got_new = outcome(old_uri), outcome(new_uri)
        assert got_old["rescheduled_to"] == (new_uri if reflect else None), order
        strip = lambda o: {k: v for k, v in o.items() if k != "rescheduled_to"}  # noqa: E731
        assert (strip(got_old), strip(got_new)) == (strip(expected[0]), strip(expected[1])), order
