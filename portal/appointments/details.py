"""What the appointment page says about a meeting, in words (issue 16 item 7).

The sync stores Calendly's codes (location kinds, rule-tagged owner reasons,
status origins); this module turns them into what a person reads. Rule ids
stay in the support console.
"""
from collections import namedtuple
from urllib.parse import urlencode, urlsplit

from portal import words
from portal.models import AppointmentStatus, Origin, User, Workflow
from portal.sync.meeting import PHONE_KINDS, decode_hosts, web_link

Location = namedtuple("Location", "label text join_url note")
HistoryEntry = namedtuple("HistoryEntry", "from_label to_label at how")

_CONFERENCES = {
    "google_conference": "Google Meet",
    "zoom_conference": "Zoom",
    "microsoft_teams_conference": "Microsoft Teams",
    "webex_conference": "Webex",
    "gotomeeting": "GoTo Meeting",
}
_PLACES = {
    "physical": "In person",
    "custom": "Custom location",
    "ask_invitee": "Location chosen by the guest",
}
_PHONE_NOTES = {
    "outbound_call": "You call the guest on the number they gave Calendly.",
    "inbound_call": "The guest calls the number shown in Calendly.",
}


# ------------------------------------------------------------------ Open in Calendly
def calendly_web_base(config):
    """Where hosts use Calendly in a browser: calendly.com for the real Calendly, else the sandbox."""
    if config.get("CALENDLY_APP_BASE"):
        return config["CALENDLY_APP_BASE"].rstrip("/")
    auth = config["CALENDLY_AUTH_BASE"].rstrip("/")
    parts = urlsplit(auth)
    if parts.hostname == "auth.calendly.com":
        return f"{parts.scheme}://calendly.com"
    return auth


def calendly_link(appointment, config):
    """The host's page of this meeting in the Calendly web app, or None for a portal appointment.

    The API gives no host-facing address for a scheduled event: its ``uri``
    is an API resource (answers JSON to a token), and the invitee's
    ``cancel_url``/``reschedule_url`` are the guest's links, which would let
    a host cancel as if they were the guest. What Calendly offers a host is
    the Scheduled events page of its web app, which opens the event whose
    uuid it is given; the uuid is the last segment of the event's URI.
    """
    if not appointment.is_managed_in_calendly or not appointment.event_uri:
        return None
    uuid = appointment.event_uri.rstrip("/").rsplit("/", 1)[-1]
    if not uuid:
        return None
    return f"{calendly_web_base(config)}/app/scheduled_events/user/me?{urlencode({'uuid': uuid})}"


# ------------------------------------------------------------------ location
def location(appointment):
    """``Location`` in words, or None when Calendly gave none (or for a portal appointment)."""
    kind = appointment.location_kind or ""
    if not appointment.is_managed_in_calendly or not kind:
        return None
    join_url = web_link(appointment.join_url)  # checked again: the page makes it a link
    if kind in _CONFERENCES:
        note = "" if join_url else "Calendly has not given a meeting link yet."
        return Location(_CONFERENCES[kind], "", join_url, note)
    if kind in PHONE_KINDS:
        return Location("Phone call", "", "", _PHONE_NOTES[kind])
    label = _PLACES.get(kind, "Meeting location")
    text = appointment.location_text or ""
    return Location(label, text, join_url, "" if text or join_url else "No details given.")


# ------------------------------------------------------------------ people
def hosts(appointment):
    """The Calendly hosts of the meeting: ``[{"name", "email"}]``."""
    return decode_hosts(appointment.calendly_hosts) if appointment.is_managed_in_calendly else []


def owner_reason(appointment):
    """Why the owner owns the appointment (``words.owner_reason``, with this appointment's names)."""
    owner = appointment.owner.display_name if appointment.owner_id and appointment.owner else None
    return words.owner_reason(appointment.owner_reason, owner=owner, calendar=appointment.calendar_name)


# ------------------------------------------------------------------ status history
def _label(status):
    try:
        return AppointmentStatus(status).label
    except ValueError:
        return status.replace("_", " ").capitalize()


def _by_whom(change, subaccount_id):
    kind, _, ident = (change.cause or "").partition(" ")
    if change.origin == Origin.PERSON and kind == "user" and ident.isdigit():
        user = User.get_or_none(User.id == int(ident))
        return f"by {user.display_name}" if user else "by a person"
    if change.origin == Origin.WORKFLOW and kind == "workflow" and ident.isdigit():
        w = Workflow.get_or_none((Workflow.id == int(ident)) & (Workflow.subaccount == subaccount_id))
        return f"by the workflow “{w.name}”" if w else "by a workflow"
    return {Origin.WEBHOOK: "in Calendly", Origin.BACKFILL: "in Calendly, seen by the import of past bookings",
            Origin.RECONCILIATION: "in Calendly, seen by the regular check with Calendly",
            Origin.PERSON: "by a person", Origin.WORKFLOW: "by a workflow"}.get(change.origin, "")


def history(appointment, changes):
    """The first entry (booked or created), then each status change, oldest first."""
    calendly = appointment.is_managed_in_calendly
    first_at = appointment.booked_at or appointment.created_at
    entries = [HistoryEntry(None, "Booked" if calendly else "Created", first_at,
                            "in Calendly" if calendly else "in the portal")]
    for c in changes:
        entries.append(HistoryEntry(_label(c.from_status), _label(c.to_status), c.at,
                                    _by_whom(c, appointment.subaccount_id)))
    return entries
