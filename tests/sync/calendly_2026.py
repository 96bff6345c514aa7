"""A live Calendly connection for the no-show, event type and subscription tests (issue 17).

Ada's Calendly account with a "Cleaning" calendar, connected through the
sandbox's OAuth and the portal's first Save; the sandbox's webhooks reach the
portal over HTTP (``live_server``) and the session's RQ worker applies them.
"""
from datetime import timedelta
from types import SimpleNamespace

import pytest

from portal.models import Appointment, CalendlyConnection, Status, Subaccount
from portal.timeutil import to_iso, utcnow

from .helpers import connect_via_sandbox, wait_for


def soon(days=2, minutes=0):
    at = (utcnow() + timedelta(days=days)).replace(hour=10, minute=0, second=0, microsecond=0)
    return to_iso(at + timedelta(minutes=minutes))


def uuid_of(uri):
    return uri.rstrip("/").rsplit("/", 1)[1]


@pytest.fixture
def ada(app_ctx, live_server, sandbox, worker, stack, people, auth):
    user = people.user("ada@acme.test", name="Ada Admin")
    sandbox.create_user("ada@cal.test", name="Ada Calendly")
    cleaning = sandbox.create_event_type("Cleaning", hosts=["ada@cal.test"])
    connection = connect_via_sandbox(stack, user, Subaccount.get(name="Acme Dental"), "ada@cal.test", ["Cleaning"])
    wait_for(lambda: CalendlyConnection.get_by_id(connection.id).status == Status.CONNECTED, timeout=30,
             message="the backfill to finish")
    auth.login("ada@acme.test")
    env = SimpleNamespace(user=user, cleaning=cleaning, connection=CalendlyConnection.get_by_id(connection.id),
                          sandbox=sandbox, slots=0)

    def book(name="Grace Hopper", email="grace@example.com"):
        env.slots += 1
        booked = sandbox.book(cleaning["uri"], soon(minutes=30 * env.slots), name, email)
        return appointment_for(booked["invitee"])

    env.book = book
    return env


def appointment_for(invitee_uri, timeout=20):
    return wait_for(lambda: Appointment.get_or_none(Appointment.invitee_uri == invitee_uri), timeout=timeout,
                    message=f"the appointment of {invitee_uri}")


def fresh(model, row):
    return model.get_by_id(row.id)
