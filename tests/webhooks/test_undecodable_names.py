"""A delivery whose name holds an invalid Unicode surrogate is applied with U+FFFD, not failed (issue 12, item 6)."""
import json

import pytest

from jobs.sync import apply_delivery
from portal.models import Appointment, Contact, DeliveryState, Subaccount, WebhookDelivery
from sync.helpers import booking, envelope, make_connection, post_delivery, select

ET = "https://api.calendly.com/event_types/CLEANING"


@pytest.fixture
def conn(private_redis, app_ctx, people):
    ada = people.user("ada@acme.test")
    c = make_connection(ada, Subaccount.get(name="Acme Dental"), signing_key="per-connection-key")
    select(c, ET, "Cleaning")
    return c


def test_a_lone_surrogate_in_the_guests_name_and_the_title_is_replaced_and_the_booking_applied(client, conn):
    body = envelope(booking(ET, name="Zoë \ud800Broken", title="Visit \udfff"))
    raw = json.dumps(body).encode()  # JSON escapes it as \\ud800: valid JSON, not valid Unicode
    assert b"\\ud800" in raw
    assert post_delivery(client, conn, raw).status_code == 200
    delivery = WebhookDelivery.get()
    assert apply_delivery(delivery.id) == "imported"
    assert WebhookDelivery.get_by_id(delivery.id).state == DeliveryState.APPLIED
    assert Contact.get().name == "Zoë \ufffdBroken"
    assert Appointment.get().title == "Visit \ufffd"
