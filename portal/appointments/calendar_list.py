"""The Calendars page (issue 16): each imported Calendly calendar, its kind, who selected it, its booking link."""
from dataclasses import dataclass, field

from portal.models import CalendarSelection, CalendlyConnection, Status, User

KIND_LABELS = {"round_robin": "Round robin", "collective": "Collective"}


@dataclass
class ImportedCalendar:
    uri: str
    name: str
    kind: str  # "Personal", "Round robin" or "Collective"
    booking_url: str = ""
    members: list = field(default_factory=list)  # display names of the members who have it selected
    gone_from_calendly: bool = False


def imported_calendars(subaccount):
    """The calendars selected now by the subaccount's live connections, by name (one query)."""
    rows = (
        CalendarSelection.select(CalendarSelection, CalendlyConnection, User)
        .join(CalendlyConnection).join(User)
        .where((CalendlyConnection.subaccount == subaccount) & (CalendlyConnection.status != Status.DISCONNECTED)
               & CalendarSelection.selected_until.is_null())
        .order_by(CalendarSelection.name, User.name, User.email)
    )
    found = {}
    for s in rows:
        cal = found.get(s.event_type_uri)
        if cal is None:
            cal = found[s.event_type_uri] = ImportedCalendar(
                uri=s.event_type_uri, name=s.name, kind=KIND_LABELS.get(s.pooling_type, "Personal"))
        cal.booking_url = cal.booking_url or s.scheduling_url
        cal.gone_from_calendly = cal.gone_from_calendly or s.deleted_in_calendly_at is not None
        name = s.connection.user.display_name
        if name not in cal.members:
            cal.members.append(name)
    return sorted(found.values(), key=lambda c: (c.name.lower(), c.uri))
