"""Factories for the page tests: rows made directly in the database."""
from datetime import datetime, timedelta
from itertools import count

import pytest

from portal.extensions import db
from portal.models import (
    Appointment,
    AppointmentGuest,
    Contact,
    Source,
    Subaccount,
    normalize_email,
)
from portal.timeutil import utcnow

_seq = count(1)


class Rows:
    """Creates contacts and appointments the way the sync would leave them."""

    def contact(self, subaccount="Acme Dental", email=None, name="", assigned_user=None, **extra):
        with db.connection_context():
            sub = Subaccount.get(Subaccount.name == subaccount)
            email = email or f"guest{next(_seq)}@example.com"
            return Contact.create(subaccount=sub, email=email, email_normalized=normalize_email(email), name=name,
                                  assigned_user=assigned_user, **extra)

    def appointment(self, subaccount="Acme Dental", title="Intro call", start=None, minutes=30, contact=None,
                    owner=None, source=Source.CALENDLY, calendar="Intro call", guests=(), **extra):
        with db.connection_context():
            sub = Subaccount.get(Subaccount.name == subaccount)
            start = start or (utcnow() + timedelta(days=1)).replace(second=0, microsecond=0)
            n = next(_seq)
            fields = {}
            if source == Source.CALENDLY:
                fields = {
                    "invitee_uri": f"https://api.calendly.com/scheduled_events/EV{n}/invitees/INV{n}",
                    "event_uri": f"https://api.calendly.com/scheduled_events/EV{n}",
                    "event_type_uri": f"https://api.calendly.com/event_types/{calendar.replace(' ', '-').upper()}",
                    "calendar_name": calendar,
                    "booked_at": start - timedelta(days=3),
                }
            fields.update(extra)
            a = Appointment.create(subaccount=sub, source=source, title=title, start=start,
                                   end=start + timedelta(minutes=minutes), contact=contact, owner=owner, **fields)
            for g in guests:
                AppointmentGuest.create(appointment=a, contact=g)
            return a

    def many(self, n, subaccount="Acme Dental", start=None, step=timedelta(hours=1), **kwargs):
        """``n`` appointments, ``step`` apart, inserted in one batch."""
        start = start or datetime(2030, 1, 7, 9, 0)
        with db.connection_context():
            sub = Subaccount.get(Subaccount.name == subaccount)
            rows = [{"subaccount": sub, "source": Source.CALENDLY, "title": f"Booking {i:04d}",
                     "start": start + i * step, "end": start + i * step + timedelta(minutes=30),
                     "invitee_uri": f"https://api.calendly.com/scheduled_events/B{i}/invitees/I{i}-{next(_seq)}",
                     "calendar_name": "Intro call", **kwargs} for i in range(n)]
            with db.atomic():
                for chunk in range(0, n, 500):
                    Appointment.insert_many(rows[chunk:chunk + 500]).execute()


@pytest.fixture
def rows(app):
    return Rows()


@pytest.fixture
def signed_in(people, auth):
    """Ann, a user of Acme Dental, signed in; returns her User row."""
    ann = people.user("ann@acme.test", name="Ann Owner")
    auth.login("ann@acme.test")
    return ann


@pytest.fixture
def live_process(stack, live_app, monkeypatch):
    """The live process as ``make run`` starts it (gunicorn, gevent worker), named on the live portal's pages."""
    from portal.devstack import free_port, live_argv
    from portal.supervisor import Service

    port = free_port()
    service = Service("live", live_argv("127.0.0.1", port), stack["env"], str(stack["base"]),
                      health_url=f"http://127.0.0.1:{port}/live/health").start()
    service.port = port
    monkeypatch.setitem(live_app.config, "LIVE_STREAM_URL", f"http://127.0.0.1:{port}/live/stream")
    yield service
    service.stop()
