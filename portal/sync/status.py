"""An appointment's status: every change goes through ``change_status`` (history row + domain event)."""
from portal.models import Appointment, AppointmentStatus, EventKind, StatusChange
from portal.sync import events
from portal.timeutil import utcnow

# What a user may set by hand on a portal-made appointment; Calendly's statuses come from Calendly (E3).
PORTAL_SETTABLE = (AppointmentStatus.BOOKED, AppointmentStatus.CONFIRMED, AppointmentStatus.SHOWED,
                   AppointmentStatus.CANCELLED, AppointmentStatus.NO_SHOW)


def change_status(appointment, to, *, extra=None, only_from=None):
    """Set ``appointment``'s status to ``to`` in the caller's transaction; True when it changed.

    The update is conditional on the status read, so two workers racing on
    the same change write one history row and one event. ``extra`` are more
    columns to set with it; ``only_from`` limits the statuses it changes from.
    """
    to = AppointmentStatus(to)
    current = Appointment.select(Appointment.status).where(Appointment.id == appointment.id).scalar()
    if current is None or current == to or (only_from is not None and current not in only_from):
        return False
    changed = Appointment.update(status=to, **(extra or {})).where(
        (Appointment.id == appointment.id) & (Appointment.status == current)).execute()
    if not changed:
        return False
    cause = events.current_cause()
    StatusChange.create(appointment=appointment.id, from_status=current, to_status=to, origin=cause.origin,
                        cause=cause.cause[:255], at=utcnow())
    appointment.status = to
    for name, value in (extra or {}).items():
        setattr(appointment, name, value)
    events.emit(EventKind.STATUS_CHANGED, appointment.subaccount_id, appointment=appointment,
                from_value=current, to_value=to)
    return True
