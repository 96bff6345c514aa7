"""Domain events, written by the change that causes them in the same transaction (the outbox).

The apply path (W6) changes each thing once, so each event is written once.
Who made the change (``Origin``) and why (the delivery, the user, the
workflow) come from ``origin_of``, which the caller of a change sets around
it; without one a change is a person's.
"""
import contextvars
from contextlib import contextmanager
from dataclasses import dataclass

from portal import live
from portal.models import DomainEvent, EventKind, Origin
from portal.statement_cache import CachedStatement
from portal.timeutil import utcnow


@dataclass(frozen=True)
class Cause:
    origin: str = Origin.PERSON
    cause: str = ""
    starts_workflows: bool = True
    by_workflow: int | None = None


_current = contextvars.ContextVar("calbridge_event_cause", default=Cause())


@contextmanager
def origin_of(origin, cause="", *, starts_workflows=True, by_workflow=None):
    """Changes made inside are recorded as coming from ``origin`` because of ``cause``."""
    token = _current.set(Cause(origin, cause, starts_workflows, by_workflow))
    try:
        yield
    finally:
        _current.reset(token)


def current_cause():
    return _current.get()


def emit(kind, subaccount_id, *, appointment=None, contact=None, from_value=None, to_value=None, calendar=None):
    """Write one event in the caller's transaction; returns it."""
    cause = _current.get()
    if calendar is None:
        calendar = (appointment.event_type_uri or "") if appointment is not None else ""
    contact_id = contact.id if contact is not None else (appointment.contact_id if appointment is not None else None)
    live.touch(subaccount_id)  # open pages refresh after the commit
    fields = dict(
        subaccount=subaccount_id, kind=kind,
        appointment=appointment.id if appointment is not None else None, contact=contact_id,
        from_value=None if from_value is None else str(from_value),
        to_value=None if to_value is None else str(to_value),
        origin=cause.origin, cause=cause.cause[:255], calendar=calendar or "",
        by_workflow=cause.by_workflow, created_at=utcnow(),
    )
    starts = bool(cause.starts_workflows)
    event = DomainEvent(id=_INSERT_EVENT[starts].insert(**fields), starts_workflows=starts, **fields)
    event._dirty.clear()  # as ``create`` leaves it: stored
    return event


def _insert_event(starts_workflows):
    # Every change writes its events: the INSERT is compiled once (``portal.statement_cache``), one per flag value.
    return CachedStatement(lambda subaccount, kind, appointment, contact, from_value, to_value, origin, cause, calendar,
                           by_workflow, created_at: DomainEvent.insert(
        subaccount=subaccount, kind=kind, appointment=appointment, contact=contact, from_value=from_value,
        to_value=to_value, origin=origin, cause=cause, calendar=calendar, by_workflow=by_workflow,
        starts_workflows=starts_workflows, created_at=created_at),
        ints=("subaccount", "appointment", "contact", "by_workflow"))


_INSERT_EVENT = {flag: _insert_event(flag) for flag in (True, False)}


def appointment_booked(appointment):
    return emit(EventKind.APPOINTMENT_BOOKED, appointment.subaccount_id, appointment=appointment,
                to_value=appointment.status)


def contact_created(contact):
    return emit(EventKind.CONTACT_CREATED, contact.subaccount_id, contact=contact)


def assigned_user_changed(contact, from_user_id, to_user_id):
    return emit(EventKind.ASSIGNED_USER_CHANGED, contact.subaccount_id, contact=contact,
                from_value=from_user_id, to_value=to_user_id)
