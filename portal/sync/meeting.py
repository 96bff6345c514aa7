"""Where and with whom a Calendly meeting happens: the scheduled event's location and hosts (SPEC E1, E2).

E2 allows the location and the hosts but no phone number: an
``outbound_call`` location is the invitee's number and an ``inbound_call``
one a number to dial, so of those only the kind is kept (shown "Phone call");
any other location text that reads as a phone number is dropped too (an
invitee typing their number into "ask invitee"). A join link is kept only
when it is an http(s) address, so the page can make it a link safely.

``appointment_details`` is the one mapping every import path writes
(webhook, backfill, reconciliation, through ``apply``).
"""
import json
import re
from urllib.parse import urlsplit

from portal import live
from portal.models import Appointment

PHONE_KINDS = frozenset({"outbound_call", "inbound_call"})
# Seven or more digits, with only the characters phone numbers are written with around them.
_PHONE = re.compile(r"^[\s+()./\-\d]*$")


def looks_like_phone_number(text):
    text = str(text or "")
    return sum(ch.isdigit() for ch in text) >= 7 and bool(_PHONE.match(text))


def web_link(value):
    value = str(value or "").strip()
    parts = urlsplit(value)
    return value if parts.scheme in ("http", "https") and parts.netloc else ""


def location_of(location):
    """``(kind, text, join_url)`` of a Calendly Location object (API-FACTS §6); empty strings when absent."""
    if not isinstance(location, dict):
        return "", "", ""
    kind = str(location.get("type") or location.get("kind") or "")[:64]
    if kind in PHONE_KINDS:
        return kind, "", ""
    text = str(location.get("location") or "").strip()
    if looks_like_phone_number(text):
        text = ""
    return kind, text[:500], web_link(location.get("join_url"))[:1000]


def minimal_location(location):
    """The location as the inbox may keep it (E2): only what ``location_of`` reads, no phone number."""
    if not isinstance(location, dict):
        return location
    kind, text, join_url = location_of(location)
    kept = {"type": kind}
    if text:
        kept["location"] = text
    if join_url:
        kept["join_url"] = join_url
    if location.get("status"):
        kept["status"] = str(location["status"])[:32]
    return kept


def hosts_of(event):
    """``((name, email), ...)``: the Calendly users hosting this meeting (``event_memberships``)."""
    hosts = []
    for member in (event or {}).get("event_memberships") or []:
        if not isinstance(member, dict) or not member.get("user"):
            continue
        host = (str(member.get("user_name") or "").strip()[:255], str(member.get("user_email") or "").strip()[:255])
        if (host[0] or host[1]) and host not in hosts:
            hosts.append(host)
    return tuple(hosts)


def encode_hosts(hosts):
    return json.dumps([{"name": name, "email": email} for name, email in hosts]) if hosts else ""


def decode_hosts(text):
    """The stored hosts as ``[{"name", "email"}]``; a damaged value reads as none."""
    try:
        value = json.loads(text) if text else []
    except ValueError:
        return []
    return [h for h in value if isinstance(h, dict)] if isinstance(value, list) else []


def appointment_details(booking):
    """The appointment columns that describe the meeting, from a ``Booking``."""
    return {
        "location_kind": booking.location_kind,
        "location_text": booking.location_text,
        "join_url": booking.join_url,
        "calendly_hosts": encode_hosts(booking.hosts),
    }


def refresh_details(appointment, booking):
    """The meeting's location and hosts as Calendly describes them now (a join link comes later,
    a host changes); written only when they differ, by the same mapping as an import."""
    details = appointment_details(booking)
    if not booking.location_kind and not booking.hosts:
        return False  # an inbox copy stored before locations were kept: nothing to learn from it
    changed = {k: v for k, v in details.items() if getattr(appointment, k) != v}
    if not changed:
        return False
    Appointment.update(**changed).where(Appointment.id == appointment.id).execute()
    for k, v in changed.items():
        setattr(appointment, k, v)
    live.touch(appointment.subaccount_id)  # an open appointment page shows the join link once it comes
    return True
