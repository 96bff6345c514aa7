"""Calendars follow their Calendly event type (issue 17): renamed, deleted or made inactive.

``event_type.updated`` / ``.deleted`` deliveries and the reconciliation's
re-reading of the event types both end in ``follow_event_type``. A rename
changes the name of the connection's selection and of the subaccount's
appointments from that calendar; a deleted or inactive event type marks
the selection "deleted in Calendly" (it is no longer offered; its imported
appointments stay); an event type active again clears the mark.
"""
from dataclasses import dataclass

from portal import live
from portal.models import Appointment, CalendarSelection, Source
from portal.models.audit import record
from portal.timeutil import utcnow


@dataclass(frozen=True)
class Followed:
    """What following an event type changed for one connection."""

    selected: bool
    renamed_from: str | None = None
    deleted: bool = False  # newly marked deleted in Calendly
    restored: bool = False  # the mark cleared

    @property
    def changed(self):
        return bool(self.renamed_from or self.deleted or self.restored)


def is_gone(event_type):
    """Deleted (``deleted_at`` set) or switched off (``active`` false) in Calendly."""
    return bool(event_type.get("deleted_at")) or event_type.get("active") is False


def follow_event_type(connection, event_type):
    """Bring the connection's selection of ``event_type`` (an EventType resource) in line; returns ``Followed``."""
    uri = event_type.get("uri") if isinstance(event_type, dict) else None
    periods = list(CalendarSelection.select().where(
        (CalendarSelection.connection == connection.id) & (CalendarSelection.event_type_uri == uri))) if uri else []
    if not periods:
        return Followed(selected=False)
    latest = max(periods, key=lambda s: (s.selected_from, s.id))
    name = str(event_type.get("name") or "").strip()[:255]
    renamed_from = latest.name if name and name != latest.name else None
    if renamed_from:
        CalendarSelection.update(name=name).where(
            (CalendarSelection.connection == connection.id) & (CalendarSelection.event_type_uri == uri)).execute()
        Appointment.update(calendar_name=name).where(
            (Appointment.subaccount == connection.subaccount_id) & (Appointment.event_type_uri == uri)
            & (Appointment.source == Source.CALENDLY)).execute()
    gone = is_gone(event_type)
    marked = CalendarSelection.deleted_in_calendly_at
    mark_query = CalendarSelection.update(deleted_in_calendly_at=utcnow() if gone else None).where(
        (CalendarSelection.connection == connection.id) & (CalendarSelection.event_type_uri == uri)
        & (marked.is_null() if gone else marked.is_null(False)))
    changed = bool(mark_query.execute())
    followed = Followed(selected=True, renamed_from=renamed_from, deleted=gone and changed,
                        restored=not gone and changed)
    _note(connection, name or latest.name, followed)
    if followed.changed:
        live.touch(connection.subaccount_id)  # the appointments' calendar name, the Connections row
    return followed


def _note(connection, name, followed):
    """The subaccount's Activity log says what Calendly changed (D5)."""
    if followed.renamed_from:
        record("calendar.renamed_in_calendly", subaccount=connection.subaccount_id, target=name,
               detail=f"was {followed.renamed_from}")
    if followed.deleted:
        record("calendar.deleted_in_calendly", subaccount=connection.subaccount_id, target=name,
               detail="its imported appointments stay")
    if followed.restored:
        record("calendar.restored_in_calendly", subaccount=connection.subaccount_id, target=name)
