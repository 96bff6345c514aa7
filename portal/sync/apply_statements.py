"""The statements the apply path runs for every booking, compiled once (``portal.statement_cache``).

Peewee builds a statement's SQL anew on every run, which cost the workers
more than SQLite's own work on each delivery; these are built once and bound.
"""
from portal.models import Appointment, Subaccount, SyncDecision
from portal.statement_cache import CachedStatement

APPOINTMENT_BY_INVITEE = CachedStatement(lambda subaccount, invitee_uri: (
    Appointment.select().where((Appointment.subaccount == subaccount) & (Appointment.invitee_uri == invitee_uri))
    .limit(1)), ints=("subaccount",))

REFLECTS_CANCELLATIONS = CachedStatement(lambda id: (
    Subaccount.select(Subaccount.reflect_cancellations).where(Subaccount.id == id).limit(1)), ints=("id",))

RECORD_DECISION = CachedStatement(
    lambda subaccount, connection, delivery, via, invitee_uri, event_uri, event_type_uri, invitee_email, outcome,
    reason, rule, detail, at: SyncDecision.insert(
        subaccount=subaccount, connection=connection, delivery=delivery, via=via, invitee_uri=invitee_uri,
        event_uri=event_uri, event_type_uri=event_type_uri, invitee_email=invitee_email, outcome=outcome,
        reason=reason, rule=rule, detail=detail, at=at),
    ints=("subaccount", "connection", "delivery"))
