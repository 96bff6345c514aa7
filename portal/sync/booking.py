"""One Calendly booking: an invitee of a scheduled event, parsed once (SPEC E1, E2).

Only what the portal keeps is read: identities, times, name, email, guest
emails, hosts, the meeting location (``portal.sync.meeting``) and the
cancellation/reschedule links. Phone numbers, questions and answers,
tracking, notes and payments are deliberately not part of ``Booking``, so
they cannot be stored by mistake (E2).
"""
import re
from dataclasses import dataclass, fields, replace
from datetime import datetime

from portal.sync import meeting
from portal.sync.webhook_events import INVITEE_EVENTS
from portal.models import normalize_email
from portal.timeutil import parse_iso

BOOKING_EVENTS = INVITEE_EVENTS


class BookingError(ValueError):
    """The Calendly data lacks something a booking cannot do without."""


@dataclass(frozen=True)
class Booking:
    invitee_uri: str
    event_uri: str
    event_type_uri: str
    title: str
    start: datetime
    end: datetime
    name: str
    email: str
    created_at: datetime  # the invitee's creation: the booking time (W, O3)
    status: str = "active"  # the invitee's status: active | canceled
    event_status: str = "active"
    canceled_at: datetime | None = None
    rescheduled: bool = False
    new_invitee_uri: str | None = None
    old_invitee_uri: str | None = None
    guest_emails: tuple = ()
    host_uris: tuple = ()
    hosts: tuple = ()  # ((name, email), ...) of event_memberships
    location_kind: str = ""  # Calendly's location.type, e.g. "zoom_conference"
    location_text: str = ""  # an address or a custom location; never a phone number (E2)
    join_url: str = ""

    @property
    def canceled(self):
        return self.status == "canceled" or self.event_status == "canceled"


# JSON may escape a lone UTF-16 surrogate ("\ud800"): valid JSON, but no database can store it.
_SURROGATE = re.compile("[\ud800-\udfff]")


def _clean(value):
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, tuple):
        return tuple(_clean(v) for v in value)
    return value


def _replace_surrogates(booking):
    """``booking`` with every lone surrogate in its text replaced by U+FFFD: shown as �, never fatal."""
    changed = {}
    for f in fields(booking):
        value = getattr(booking, f.name)
        cleaned = _clean(value)
        if cleaned != value:
            changed[f.name] = cleaned
    return replace(booking, **changed) if changed else booking


def _required(data, key, what):
    value = data.get(key) if isinstance(data, dict) else None
    if value in (None, ""):
        raise BookingError(f"{what} has no {key}")
    return value


def _time(data, key, what):
    try:
        return parse_iso(_required(data, key, what))
    except (TypeError, ValueError) as exc:
        raise BookingError(f"{what} has an invalid {key}") from exc


def parse_booking(invitee, event):
    """``Booking`` from an Invitee resource and its Event resource (API-FACTS §6)."""
    if not isinstance(invitee, dict) or not isinstance(event, dict):
        raise BookingError("invitee and scheduled event must be JSON objects")
    email = str(_required(invitee, "email", "invitee")).strip()
    name = (invitee.get("name") or " ".join(
        p for p in (invitee.get("first_name"), invitee.get("last_name")) if p) or "").strip()
    cancellation = invitee.get("cancellation") or {}
    canceled_at = parse_iso(cancellation.get("created_at")) if cancellation.get("created_at") else None
    own = normalize_email(email)
    guests = []
    for guest in event.get("event_guests") or []:
        g = normalize_email((guest or {}).get("email"))
        if g and g != own and g not in guests:
            guests.append(g)
    location_kind, location_text, join_url = meeting.location_of(event.get("location"))
    return _replace_surrogates(Booking(
        invitee_uri=_required(invitee, "uri", "invitee"),
        event_uri=_required(event, "uri", "scheduled event"),
        event_type_uri=_required(event, "event_type", "scheduled event"),
        title=str(event.get("name") or "Calendly booking"),
        start=_time(event, "start_time", "scheduled event"),
        end=_time(event, "end_time", "scheduled event"),
        name=name,
        email=email,
        created_at=_time(invitee, "created_at", "invitee"),
        status=invitee.get("status") or "active",
        event_status=event.get("status") or "active",
        canceled_at=canceled_at,
        rescheduled=bool(invitee.get("rescheduled")),
        new_invitee_uri=invitee.get("new_invitee") or None,
        old_invitee_uri=invitee.get("old_invitee") or None,
        guest_emails=tuple(guests),
        host_uris=tuple(m.get("user") for m in event.get("event_memberships") or [] if m and m.get("user")),
        hosts=meeting.hosts_of(event),
        location_kind=location_kind,
        location_text=location_text,
        join_url=join_url,
    ))


# What E2 says is not synced; dropped from a delivery before the inbox stores it.
PRIVATE_INVITEE_FIELDS = (
    "questions_and_answers", "text_reminder_number", "tracking", "payment", "reconfirmation",
    "routing_form_submission", "cancel_url", "reschedule_url",
)
PRIVATE_EVENT_FIELDS = ("meeting_notes_plain", "meeting_notes_html", "calendar_event")


def minimize(envelope):
    """A copy of a webhook envelope without phone numbers, answers, notes or tracking (E2).

    Everything ``parse_delivery`` reads is kept, so the stored copy can be
    applied (and retried) as received; the location only as ``meeting`` reads it.
    """
    if not isinstance(envelope, dict) or not isinstance(envelope.get("payload"), dict):
        return envelope
    payload = {k: v for k, v in envelope["payload"].items() if k not in PRIVATE_INVITEE_FIELDS}
    if isinstance(payload.get("cancellation"), dict):
        payload["cancellation"] = {k: v for k, v in payload["cancellation"].items() if k != "reason"}
    event = payload.get("scheduled_event")
    if isinstance(event, dict):
        event = {k: v for k, v in event.items() if k not in PRIVATE_EVENT_FIELDS}
        if "location" in event:
            event["location"] = meeting.minimal_location(event["location"])
        if isinstance(event.get("cancellation"), dict):
            event["cancellation"] = {k: v for k, v in event["cancellation"].items() if k != "reason"}
        payload["scheduled_event"] = event
    return {**envelope, "payload": payload}


def parse_delivery(envelope):
    """``(event_name, Booking)`` from a webhook body already decoded from JSON (§7).

    Raises ``BookingError`` when the envelope is not an invitee delivery with
    its scheduled event embedded.
    """
    if not isinstance(envelope, dict):
        raise BookingError("webhook body is not a JSON object")
    name = envelope.get("event")
    payload = envelope.get("payload")
    if not isinstance(payload, dict):
        raise BookingError("webhook body has no payload")
    return name, parse_booking(payload, payload.get("scheduled_event"))
