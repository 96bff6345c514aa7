"""The lists work with 100,000 appointments and 50,000 contacts (keyset paging; their speed is ``make bench``'s)."""
import re
from datetime import datetime, timedelta

import pytest
from peewee import SqliteDatabase

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
    if isinstance(db.obj, SqliteDatabase):
        db.obj.execute_sql("ANALYZE")


def page(client, url):
    resp = client.get(url)
    assert resp.status_code == 200, url
    return resp.get_data(as_text=True)


def test_lists_and_dashboard_work_at_scale(client, signed_in, app_ctx):
    """100,000 appointments and 50,000 contacts: every page still pages, counts and finds (speed: ``make bench``)."""
    fill(100_000, 50_000)
    newest_first = page(client, "/calendars/?when=all")
    assert ">Booking 99999<" in newest_first and 'rel="next"' in newest_first
    for url in ("/calendars/", "/calendars/?when=past",
                "/calendars/?calendar=https://api.calendly.com/event_types/INTRO&when=all"):
        assert 'rel="next"' in page(client, url), url
    # 2 June 2025 08:00 is booking (518 days × 72 a day) = 37,296: its week holds it.
    assert ">Booking 37296<" in page(client, "/calendars/week?start=2025-06-02")
    dashboard = page(client, "/dashboard")
    assert re.search(r'stat-label">Appointments</div>\s*<div class="stat-value">100,000<', dashboard)
    assert re.search(r'stat-label">Contacts</div>\s*<div class="stat-value">50,000<', dashboard)
    contacts = page(client, "/contacts/")
    assert ">Person 000000<" in contacts and 'rel="next"' in contacts
    found = page(client, "/contacts/?q=person%2004999")
    assert found.count(">Person 04999") == 10 and 'rel="next"' not in found
    # A page deep in the list, reached by a cursor, starts right after it.
    from portal.keyset import encode_cursor

    booking = Appointment.get(Appointment.title == "Booking 1000")
    deep = page(client, f"/calendars/?when=all&after={encode_cursor(booking.start, booking.id)}")
    assert ">Booking 999<" in deep and ">Booking 1000<" not in deep
    person = Contact.get(Contact.name == "Person 049000")
    deep_contacts = page(client, f"/contacts/?after={encode_cursor(person.name, person.id)}")
    assert ">Person 049001<" in deep_contacts and ">Person 049000<" not in deep_contacts
