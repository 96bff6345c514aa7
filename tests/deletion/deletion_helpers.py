"""Helpers for the deletion tests: a two-member team on the sandbox, the Edit and Disconnect forms."""
import re
from datetime import timedelta

from sync.helpers import connect_via_sandbox, wait_for

from portal.extensions import db
from portal.models import Appointment, AppointmentSource, CalendlyConnection, Contact, Source, Status, Subaccount
from portal.timeutil import to_iso, utcnow

SETTINGS = "/calendars/settings"
INDEX = SETTINGS + "/connections"
APPOINTMENTS, CONTACTS = 10_000, 1_000
FLASH = re.compile(r'<div class="flash flash-(\w+)" role="\w+">([^<]*)</div>')


def iso(dt):
    return to_iso(dt)


def upcoming(days=2, hour=10):
    return (utcnow() + timedelta(days=days)).replace(hour=hour, minute=0, second=0, microsecond=0)


class Team:
    """Ann hosts Cleaning and Whitening; Bob hosts Consult; both host the round-robin Team intake."""

    def __init__(self, stack, sandbox, people):
        self.stack, self.sandbox, self.people = stack, sandbox, people
        self.ann = people.user("ann@acme.test", name="Ann Archer")
        self.bob = people.user("bob@acme.test", name="Bob Baker")
        self.sub = Subaccount.get(Subaccount.name == "Acme Dental")
        org = sandbox.create_user("ann@cal.test", name="Ann Calendly")["organization"]["uri"]
        sandbox.create_user("bob@cal.test", name="Bob Calendly", organization=org)
        self.cleaning = sandbox.create_event_type("Cleaning", hosts=["ann@cal.test"])
        self.whitening = sandbox.create_event_type("Whitening", hosts=["ann@cal.test"])
        self.consult = sandbox.create_event_type("Consult", hosts=["bob@cal.test"])
        self.intake = sandbox.create_event_type("Team intake", hosts=["ann@cal.test", "bob@cal.test"],
                                                pooling_type="round_robin")
        self._n = 0

    def book(self, event_type, email=None, days=2, created_at=None, name=None):
        """A booking in the sandbox; returns its invitee URI."""
        self._n += 1
        email = email or f"guest{self._n}@example.com"
        made = self.sandbox.book(event_type["uri"], iso(upcoming(days, hour=8 + self._n % 10)),
                                 name or f"Guest {self._n}", email,
                                 created_at=iso(created_at) if created_at else None)
        return made["invitee"]

    def connect(self, user, calendly_email, calendars, imported=()):
        """Connect through the sandbox's OAuth and the first Save; wait until the import is done and the
        ``imported`` bookings (invitee URIs) are appointments."""
        conn = connect_via_sandbox(self.stack, user, self.sub, calendly_email, calendars)
        conn = wait_for(lambda: _connected(conn.id), timeout=20, message="the import to finish")
        for invitee in imported:
            wait_for_appointment(invitee)
        return conn


def _connected(connection_id):
    c = CalendlyConnection.get_by_id(connection_id)
    return c if c.status == Status.CONNECTED else None


def appointment(invitee_uri):
    return Appointment.get_or_none(Appointment.invitee_uri == invitee_uri)


def wait_for_appointment(invitee_uri, timeout=10):
    return wait_for(lambda: appointment(invitee_uri), timeout=timeout, message=f"appointment {invitee_uri}")


def count(event_type):
    return Appointment.select().where(Appointment.event_type_uri == event_type["uri"]).count()


def edit_url(conn):
    return f"{INDEX}/{conn.id}/edit"


def disconnect_url(conn):
    return f"{INDEX}/{conn.id}/disconnect"


def save_edit(client, conn, calendars, answers=None, step="confirm", htmx=True):
    """POST the Edit form with the calendars ticked and, for removed ones, ``[(event type, "keep"|"delete")]``."""
    data = {"event_type": [c["uri"] for c in calendars], "step": step}
    for event_type, answer in answers or ():
        data[f"answer:{event_type['uri']}"] = answer
    headers = {"HX-Request": "true"} if htmx else {}
    return client.post(edit_url(conn), data=data, headers=headers)


def flashes(page):
    return [(kind, text.replace("&#39;", "'")) for kind, text in FLASH.findall(page)]


def page(client):
    return client.get(INDEX).get_data(as_text=True)


def fill(team, conn):
    """10,000 Cleaning appointments of Ann's connection, for 1,000 contacts, straight into the database."""
    now = utcnow()
    with db.atomic():
        Contact.insert_many([{"subaccount": team.sub, "email": f"p{i}@example.com",
                              "email_normalized": f"p{i}@example.com", "name": f"Person {i}",
                              "assigned_user": team.ann} for i in range(CONTACTS)]).execute()
        contacts = [c.id for c in Contact.select(Contact.id).order_by(Contact.id)]
        for base in range(0, APPOINTMENTS, 1000):
            rows = [{"subaccount": team.sub, "source": Source.CALENDLY, "title": "Cleaning",
                     "start": now + timedelta(hours=i), "end": now + timedelta(hours=i, minutes=30),
                     "contact": contacts[i % CONTACTS], "owner": team.ann, "event_type_uri": team.cleaning["uri"],
                     "calendar_name": "Cleaning", "booked_at": now - timedelta(minutes=i),
                     "invitee_uri": f"https://api.calendly.com/scheduled_events/E{i}/invitees/I{i}"}
                    for i in range(base, base + 1000)]
            Appointment.insert_many(rows).execute()
        ids = Appointment.select(Appointment.id).where(Appointment.event_type_uri == team.cleaning["uri"])
        AppointmentSource.insert_from(ids.select(Appointment.id, conn.id, now), [
            AppointmentSource.appointment, AppointmentSource.connection, AppointmentSource.created_at]).execute()


# ---------------------------------------------------------------- in the browser
def open_edit(page, row=None):
    """Click Edit on ``row`` (else the page's only Edit): the "Edit imported calendars" modal."""
    (row or page).get_by_role("button", name="Edit").click()
    return page.get_by_role("dialog", name="Edit imported calendars")


def untick_and_save(page, calendar, row=None, dialog=None):
    """In Edit (``dialog`` if open, else opened on ``row``): untick ``calendar`` and Save; returns the question
    that asks what happens to its events ("Remove <calendar>")."""
    dialog = dialog or open_edit(page, row)
    dialog.get_by_label(calendar).uncheck()
    dialog.get_by_role("button", name="Save").click()
    return page.get_by_role("dialog", name=f"Remove {calendar}")


def answer(question, choice):
    """Answer the Keep / Delete permanently question and Save."""
    question.get_by_label(choice).check()
    question.get_by_role("button", name="Save").click()
