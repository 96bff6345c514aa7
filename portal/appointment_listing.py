"""Appointments as every list shows them: with their contact and owner, and what "upcoming" includes."""
from datetime import timedelta

from peewee import JOIN

from portal.models import Appointment, Contact, User

# "Upcoming" includes meetings in progress; the index range starts this far back.
IN_PROGRESS_LOOKBACK = timedelta(days=1)


def with_people():
    """Appointments with their contact and owner in the same query (no N+1)."""
    owner = User.alias("owner")
    return (
        Appointment.select(Appointment, Contact, owner)
        .join(Contact, JOIN.LEFT_OUTER, on=(Appointment.contact == Contact.id), attr="contact")
        .switch(Appointment)
        .join(owner, JOIN.LEFT_OUTER, on=(Appointment.owner == owner.id), attr="owner")
    )
