"""The lists stay fast with 100,000 appointments and 50,000 contacts (keyset, indexed)."""
import time
from datetime import datetime, timedelta

import pytest

from portal.extensions import db
from portal.models import Appointment, Contact, Source, Subaccount

pytestmark = pytest.mark.slow


def fill(n_appointments, n_contacts):
    sub = Subaccount.get(Subaccount.name == "Acme Dental")
    start = datetime(2024, 1, 1, 8, 0)
    with db.atomic():
        for base in range(0, n_contacts, 1000):
            Contact.insert_many([{"subaccount": sub, "name": f"Person {i:06d}", "email": f"p{i}@example.com",
                                  "email_normalized": f"p{i}@example.com"}
                                 for i in range(base, min(base + 1000, n_contacts))]).execute()
        for base in range(0, n_appointments, 1000):
            Appointment.insert_many([{"subaccount": sub, "source": Source.CALENDLY, "title": f"Booking {i}",
                                      "start": start + timedelta(minutes=20 * i),
                                      "end": start + timedelta(minutes=20 * i + 15),
                                      "invitee_uri": f"https://api.calendly.com/scheduled_events/E{i}/invitees/I{i}",
                                      "event_type_uri": "https://api.calendly.com/event_types/INTRO",
                                      "calendar_name": "Intro call", "contact": None}
                                     for i in range(base, min(base + 1000, n_appointments))]).execute()
    if db.obj.__class__.__name__.startswith("Sqlite"):
        db.obj.execute_sql("ANALYZE")


def timed(client, url, headers=None):
    began = time.perf_counter()
    resp = client.get(url, headers=headers or {})
    assert resp.status_code in (200, 204), url
    return time.perf_counter() - began, resp


def test_lists_and_dashboard_stay_fast_at_scale(client, signed_in, app_ctx):
    fill(100_000, 50_000)
    client.get("/calendars/")  # warm caches
    worst = 0.0
    for url in ("/calendars/", "/calendars/?when=all", "/calendars/?when=past",
                "/calendars/?calendar=https://api.calendly.com/event_types/INTRO&when=all",
                "/calendars/week?start=2025-06-02", "/dashboard", "/contacts/", "/contacts/?q=person%2004999"):
        seconds, resp = timed(client, url)
        worst = max(worst, seconds)
        if "contacts" in url or "when=" in url:
            # Deep pages cost what the first page costs: follow "Next" from the first page, then jump far.
            assert b'rel="next"' in resp.data or b"Person 049" in resp.data, url
    # A page deep in the list, reached by a cursor, is as cheap as the first one.
    from portal.calendars.keyset import encode_cursor

    deep = encode_cursor(datetime(2024, 1, 1, 8, 0) + timedelta(minutes=20 * 1_000), 1_001)
    seconds, resp = timed(client, f"/calendars/?when=all&after={deep}")
    assert b"Booking 999<" in resp.data
    worst = max(worst, seconds)
    seconds, _ = timed(client, f"/contacts/?after={encode_cursor('Person 049000', 49_001)}")
    worst = max(worst, seconds)
    assert worst < 0.5, f"slowest page took {worst:.3f}s"
