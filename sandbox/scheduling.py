"""Event types, availability and the booking lifecycle (book, cancel, reschedule).

Every change that Calendly would announce goes through here, so the webhook
fan-out happens in one place (``webhooks.fan_out``).
"""
from datetime import datetime, time, timedelta

from . import hotpath, webhooks
from .accounts import AccountError, unique_slug
from .store import EventGuest, EventMembership, EventType, EventTypeHost, Invitee, ScheduledEvent, db, utcnow

QUESTION_TYPES = ("string", "text", "phone_number", "single_select", "multi_select")
LOCATION_KINDS = ("google_conference", "zoom_conference", "microsoft_teams_conference", "physical", "custom",
                  "inbound_call", "outbound_call", "ask_invitee")
DAY_START, DAY_END = time(9, 0), time(17, 0)  # UTC working hours of every host
BACKDATED = timedelta(seconds=5)  # bookings created further in the past fire no webhook


class SchedulingError(ValueError):
    def __init__(self, message, status=400):
        super().__init__(message)
        self.status = status


# ------------------------------------------------------------------ event types
def normalize_questions(questions):
    clean = []
    for i, q in enumerate(questions or []):
        if isinstance(q, str):
            q = {"name": q}
        if not isinstance(q, dict) or not q.get("name"):
            raise SchedulingError("each custom question needs a name")
        qtype = q.get("type", "string")
        if qtype not in QUESTION_TYPES:
            raise SchedulingError(f"question type must be one of {', '.join(QUESTION_TYPES)}")
        clean.append({
            "name": q["name"], "type": qtype, "position": q.get("position", i),
            "enabled": bool(q.get("enabled", True)), "required": bool(q.get("required", False)),
            "answer_choices": list(q.get("answer_choices") or []), "include_other": bool(q.get("include_other", False)),
        })
    return clean


def create_event_type(name, hosts, pooling_type=None, duration=30, custom_questions=None, kind="solo",
                      invitees_limit=None, location=None, description=None, active=True, secret=False,
                      color="#0069ff", slug=None, position=0):
    """An event type hosted by ``hosts`` (users); the first host owns it."""
    if not name:
        raise SchedulingError("name is required")
    if not hosts:
        raise SchedulingError("at least one host is required")
    if pooling_type not in (None, "round_robin", "collective"):
        raise SchedulingError("pooling_type must be null, round_robin or collective")
    if kind not in ("solo", "group"):
        raise SchedulingError("kind must be solo or group")
    if not isinstance(duration, int) or isinstance(duration, bool) or not 5 <= duration <= 480:
        raise SchedulingError("duration must be minutes between 5 and 480")
    if pooling_type is None and len(hosts) > 1:
        pooling_type = "collective"
    location = location or {"kind": "google_conference"}
    if not isinstance(location, dict) or location.get("kind") not in LOCATION_KINDS:
        raise SchedulingError(f"location.kind must be one of {', '.join(LOCATION_KINDS)}")
    owner = hosts[0]
    orgs = {h.organization_id for h in hosts}
    if len(orgs) > 1:
        raise SchedulingError("all hosts must belong to the same organization")
    now = utcnow()
    with db.atomic():
        if slug and EventType.select().where(EventType.slug == slug).exists():
            raise AccountError("an event type with this slug already exists", status=409)
        event_type = EventType.create(
            name=name, slug=slug or unique_slug(EventType, name), organization=owner.organization, owner=owner,
            duration=duration, kind=kind, invitees_limit=invitees_limit or (10 if kind == "group" else 1),
            pooling_type=pooling_type, active=active, secret=secret, color=color.lower(), description=description,
            location=location, custom_questions=normalize_questions(custom_questions), position=position,
            created_at=now, updated_at=now)
        for host in hosts:
            EventTypeHost.create(event_type=event_type, user=host, created_at=now, updated_at=now)
        webhooks.fan_out_event_type(event_type, "event_type.created")
    return event_type


def update_event_type(event_type, name=None, active=None):
    """Rename and/or (de)activate; fires ``event_type.updated`` when something changed."""
    if event_type.deleted_at is not None:
        raise SchedulingError("this event type is deleted", status=404)
    if name is not None and (not isinstance(name, str) or not name.strip()):
        raise SchedulingError("name must be a non-empty string")
    if active is not None and not isinstance(active, bool):
        raise SchedulingError("active must be true or false")
    changed = False
    if name is not None and name.strip() != event_type.name:
        event_type.name, changed = name.strip(), True
    if active is not None and active != event_type.active:
        event_type.active, changed = active, True
    if changed:
        with db.atomic():
            event_type.updated_at = utcnow()
            event_type.save()
            webhooks.fan_out_event_type(event_type, "event_type.updated")
    return event_type


def delete_event_type(event_type):
    """Soft delete (``deleted_at``): gone from listings and booking pages, still readable by URI; fires
    ``event_type.deleted``. Its scheduled events stay."""
    if event_type.deleted_at is not None:
        raise SchedulingError("this event type is already deleted", status=404)
    with db.atomic():
        event_type.deleted_at = event_type.updated_at = utcnow()
        event_type.save()
        webhooks.fan_out_event_type(event_type, "event_type.deleted")
    return event_type


def hosts_of(event_type):
    return hotpath.hosts(event_type.id)


# ------------------------------------------------------------------ availability
def _busy(users, start, end):
    """{user_id: [(start, end), ...]} of active meetings overlapping [start, end)."""
    rows = (EventMembership.select(EventMembership.user, ScheduledEvent.start_time, ScheduledEvent.end_time)
            .join(ScheduledEvent)
            .where(EventMembership.user.in_([u.id for u in users]), ScheduledEvent.status == "active",
                   ScheduledEvent.start_time < end, ScheduledEvent.end_time > start)
            .tuples())
    busy = {u.id: [] for u in users}
    for user_id, s, e in rows:
        busy[user_id].append((s, e))
    return busy


def _free(intervals, start, end):
    return all(e <= start or s >= end for s, e in intervals)


def _open_group_event(event_type, start):
    """An active group event at ``start`` that still has room, if any."""
    if event_type.kind != "group":
        return None
    for event in ScheduledEvent.select().where(ScheduledEvent.event_type == event_type,
                                               ScheduledEvent.start_time == start,
                                               ScheduledEvent.status == "active"):
        active = Invitee.select().where(Invitee.event == event, Invitee.status == "active").count()
        if active < event.invitees_limit:
            return event
    return None


def free_hosts(event_type, start, busy=None, hosts=None):
    hosts = hosts if hosts is not None else hosts_of(event_type)
    end = start + timedelta(minutes=event_type.duration)
    busy = busy if busy is not None else _busy(hosts, start, end)
    return [h for h in hosts if _free(busy.get(h.id, []), start, end)], hosts


def slot_is_open(event_type, start, busy=None, hosts=None):
    if _open_group_event(event_type, start):
        return True
    free, hosts = free_hosts(event_type, start, busy, hosts)
    if event_type.pooling_type == "round_robin":
        return bool(free)
    return len(free) == len(hosts)


def available_slots(event_type, days=14, now=None):
    """Start times for the next ``days`` days, 9:00-17:00 UTC at ``duration`` steps, minus taken slots."""
    now = now or utcnow()
    step = timedelta(minutes=event_type.duration)
    first_day = now.date()
    window_end = datetime.combine(first_day + timedelta(days=days), time(0))
    hosts = hosts_of(event_type)
    busy = _busy(hosts, now, window_end)
    slots = []
    for offset in range(days):
        day = first_day + timedelta(days=offset)
        start = datetime.combine(day, DAY_START)
        day_end = datetime.combine(day, DAY_END)
        while start + step <= day_end:
            if start > now and slot_is_open(event_type, start, busy, hosts):
                slots.append(start)
            start += step
    return slots


def pick_hosts(event_type, start):
    """Who hosts a booking at ``start``: all hosts, or for round robin the least recently assigned free one."""
    if event_type.pooling_type != "round_robin":
        return hosts_of(event_type)
    free, hosts = free_hosts(event_type, start)
    candidates = {h.id for h in (free or hosts)}
    rows = (EventTypeHost.select().where(EventTypeHost.event_type == event_type,
                                          EventTypeHost.user.in_(list(candidates))))
    chosen = min(rows, key=lambda r: (r.last_assigned_at is not None, r.last_assigned_at or datetime.min, r.id))
    chosen.last_assigned_at = utcnow()
    chosen.save()
    return [chosen.user]


# ------------------------------------------------------------------ bookings
def book(event_type, start_time, name, email, guests=(), questions_and_answers=(), timezone="UTC",
         text_reminder_number=None, tracking=None, created_at=None, hosts=None, old_invitee=None,
         check_availability=False, notify=True):
    """Create (or join) a scheduled event and its invitee; fires ``invitee.created``."""
    if not name or not email or "@" not in email:
        raise SchedulingError("invitee name and a valid email are required")
    created_at = created_at or utcnow()
    with db.atomic():
        if check_availability and not slot_is_open(event_type, start_time):
            raise SchedulingError("That time is no longer available. Please choose another time.", status=409)
        event = _open_group_event(event_type, start_time)
        created_event = event is None
        if created_event:
            hosts = hosts or pick_hosts(event_type, start_time)
            event = hotpath.create(
                ScheduledEvent, event_type=event_type, organization=event_type.organization_id, name=event_type.name,
                start_time=start_time, end_time=start_time + timedelta(minutes=event_type.duration),
                location=_event_location(event_type, text_reminder_number), invitees_limit=event_type.invitees_limit,
                created_at=created_at, updated_at=created_at)
            for host in hosts:
                hotpath.create(EventMembership, event=event, user=host)
        guest_rows = [hotpath.create(EventGuest, event=event, email=guest.strip().lower(), created_at=created_at,
                                     updated_at=created_at) for guest in guests or ()]
        invitee = hotpath.create(
            Invitee, event=event, name=name.strip(), email=email.strip().lower(), timezone=timezone or "UTC",
            text_reminder_number=text_reminder_number or None, questions_and_answers=list(questions_and_answers or ()),
            tracking=tracking or {}, old_invitee=old_invitee, created_at=created_at, updated_at=created_at)
        if notify and created_at >= utcnow() - BACKDATED:
            # A new event's hosts, guests and sole invitee are the rows just written: the payload reads none back.
            webhooks.fan_out(invitee, "invitee.created", fresh=(hosts, guest_rows) if created_event else None)
    return invitee


def _event_location(event_type, phone):
    loc = dict(event_type.location or {"kind": "google_conference"})
    kind = loc.pop("kind")
    if kind in ("google_conference", "zoom_conference", "microsoft_teams_conference"):
        return {"type": kind, "status": "pushed"}
    if kind == "outbound_call":
        return {"type": kind, "location": phone}
    return {"type": kind, "location": loc.get("location") or ""}


def cancel(invitee, reason=None, canceled_by=None, canceler_type="invitee", notify=True):
    """Cancel one invitee; the event is canceled with its last active invitee."""
    if invitee.status == "canceled":
        raise SchedulingError("this invitee is already canceled", status=409)
    if canceler_type not in ("host", "invitee"):
        raise SchedulingError("canceler_type must be host or invitee")
    now = utcnow()
    with db.atomic():
        _mark_canceled(invitee, reason, canceled_by or invitee.name, canceler_type, now)
        if notify:
            webhooks.fan_out(invitee, "invitee.canceled")
    return invitee


def _mark_canceled(invitee, reason, canceled_by, canceler_type, now):
    invitee.status = "canceled"
    invitee.canceled_by, invitee.cancel_reason, invitee.canceler_type = canceled_by, reason, canceler_type
    invitee.canceled_at = invitee.updated_at = now
    invitee.save()
    event = invitee.event
    if not Invitee.select().where(Invitee.event == event, Invitee.status == "active").exists():
        event.status = "canceled"
        event.canceled_by, event.cancel_reason, event.canceler_type = canceled_by, reason, canceler_type
        event.canceled_at = event.updated_at = now
    else:
        event.updated_at = now
    event.save()


def cancel_event(event, reason=None, canceled_by=None):
    """Host cancels the whole meeting: every active invitee is canceled."""
    invitees = list(Invitee.select().where(Invitee.event == event, Invitee.status == "active"))
    with db.atomic():
        for invitee in invitees:
            cancel(invitee, reason=reason, canceled_by=canceled_by, canceler_type="host")
    return invitees


def reschedule(invitee, start_time, check_availability=False):
    """Old invitee canceled (rescheduled, new_invitee set) + a new invitee on a new event (old_invitee set)."""
    if invitee.status == "canceled":
        raise SchedulingError("this invitee is already canceled", status=409)
    old_event = invitee.event
    event_type = old_event.event_type
    hosts = [m.user for m in EventMembership.select().where(EventMembership.event == old_event)]
    now = utcnow()
    with db.atomic():
        _mark_canceled(invitee, None, invitee.name, "invitee", now)
        if check_availability and not slot_is_open(event_type, start_time):
            raise SchedulingError("That time is no longer available. Please choose another time.", status=409)
        new = book(event_type, start_time, invitee.name, invitee.email,
                   guests=[g.email for g in old_event.guests], questions_and_answers=invitee.questions_and_answers,
                   timezone=invitee.timezone, text_reminder_number=invitee.text_reminder_number,
                   tracking=invitee.tracking, hosts=hosts if event_type.pooling_type == "round_robin" else None,
                   old_invitee=invitee, notify=False)
        invitee.rescheduled = True
        invitee.new_invitee = new
        invitee.save()
        webhooks.fan_out(invitee, "invitee.canceled")
        webhooks.fan_out(new, "invitee.created")
    return new
