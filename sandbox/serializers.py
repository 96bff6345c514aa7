"""Resource JSON builders: the exact shapes of Calendly API v2 (API-FACTS §4-7)."""
import json

from flask import current_app, has_request_context, request

from .store import EventGuest, EventMembership, Invitee, InviteeNoShow, User, isoformat

KIND_DESCRIPTIONS = {"round_robin": "Round Robin", "collective": "Collective"}
TRACKING_KEYS = ("utm_campaign", "utm_source", "utm_medium", "utm_content", "utm_term", "salesforce_uuid")


def base_url():
    """``SANDBOX_BASE_URL``, else the address the caller used, else the default port."""
    configured = current_app.config.get("SANDBOX_BASE_URL")
    if configured:
        return configured.rstrip("/")
    if has_request_context():
        return request.host_url.rstrip("/")
    return "http://localhost:5001"


def uri(collection, uuid):
    return f"{base_url()}/{collection}/{uuid}"


def user_uri(user):
    return uri("users", user.uuid)


def org_uri(org):
    return uri("organizations", org.uuid)


def event_uri(event):
    return uri("scheduled_events", event.uuid)


def invitee_uri(invitee):
    return f"{event_uri(invitee.event)}/invitees/{invitee.uuid}"


def event_type_uri(event_type):
    return uri("event_types", event_type.uuid)


def no_show_uri(no_show):
    return uri("invitee_no_shows", no_show.uuid)


def subscription_uri(sub):
    return uri("webhook_subscriptions", sub.uuid)


def scheduling_url(event_type):
    return f"{base_url()}/book/{event_type.slug}"


# ------------------------------------------------------------------ accounts
def user_resource(user):
    return {
        "uri": user_uri(user),
        "name": user.name,
        "slug": user.slug,
        "email": user.email,
        "scheduling_url": f"{base_url()}/people/{user.slug}",
        "timezone": user.timezone,
        "avatar_url": None,
        "created_at": isoformat(user.created_at),
        "updated_at": isoformat(user.updated_at),
        "current_organization": org_uri(user.organization),
        "resource_type": "User",
        "locale": user.locale,
    }


def organization_resource(org):
    return {
        "uri": org_uri(org),
        "name": org.name,
        "plan": org.plan,
        "stage": org.stage,
        "kind": org.kind,
        "created_at": isoformat(org.created_at),
        "updated_at": isoformat(org.updated_at),
    }


def membership_resource(membership):
    return {
        "uri": uri("organization_memberships", membership.uuid),
        "role": membership.role,
        "user": user_resource(membership.user),
        "organization": org_uri(membership.organization),
        "created_at": isoformat(membership.created_at),
        "updated_at": isoformat(membership.updated_at),
    }


# ------------------------------------------------------------------ event types
def kind_description(event_type):
    if event_type.pooling_type:
        return KIND_DESCRIPTIONS[event_type.pooling_type]
    return "Group" if event_type.kind == "group" else "One-on-One"


def event_type_resource(event_type):
    team = event_type.pooling_type is not None
    owner = event_type.owner
    return {
        "uri": event_type_uri(event_type),
        "name": event_type.name,
        "active": event_type.active,
        "booking_method": "instant",
        "slug": event_type.slug,
        "scheduling_url": scheduling_url(event_type),
        "duration": event_type.duration,
        "duration_options": None,
        "kind": event_type.kind,
        "pooling_type": event_type.pooling_type,
        "type": "StandardEventType",
        "color": event_type.color,
        "created_at": isoformat(event_type.created_at),
        "updated_at": isoformat(event_type.updated_at),
        "internal_note": event_type.internal_note,
        "description_plain": event_type.description,
        "description_html": f"<p>{_escape(event_type.description)}</p>" if event_type.description else None,
        "profile": {
            "type": "Team" if team else "User",
            "name": event_type.organization.name if team else owner.name,
            "owner": user_uri(owner),
        },
        "secret": event_type.secret,
        "custom_questions": event_type.custom_questions or [],
        "deleted_at": isoformat(event_type.deleted_at),
        "kind_description": kind_description(event_type),
        "admin_managed": False,
        "locations": [event_type.location] if event_type.location else None,
        "position": event_type.position,
        "locale": "en",
    }


def event_type_membership_resource(host):
    return {
        "uri": uri("event_type_memberships", host.uuid),
        "event_type": event_type_resource(host.event_type),
        "member": user_resource(host.user),
        "created_at": isoformat(host.created_at),
        "updated_at": isoformat(host.updated_at),
    }


# ------------------------------------------------------------------ scheduled events
def _location(event):
    loc = dict(event.location) if event.location else None
    if loc and loc.get("type") in ("google_conference", "zoom_conference", "microsoft_teams_conference"):
        loc.setdefault("status", "pushed")
        loc["join_url"] = f"{base_url()}/meet/{event.uuid}"
    return loc


def _cancellation(obj):
    return {
        "canceled_by": obj.canceled_by,
        "reason": obj.cancel_reason,
        "canceler_type": obj.canceler_type,
        "created_at": isoformat(obj.canceled_at),
    }


def event_resource(event, hosts=None, guests=None, statuses=None):
    """``hosts`` (users, in membership order), ``guests`` (rows, in order) and ``statuses`` (of its invitees)
    are read from the database unless the caller already holds them (a booking that just wrote them)."""
    if hosts is None:
        hosts = [m.user for m in EventMembership.select(EventMembership, User).join(User)
                 .where(EventMembership.event == event).order_by(EventMembership.id)]
    if guests is None:
        guests = EventGuest.select().where(EventGuest.event == event).order_by(EventGuest.id)
    if statuses is None:
        statuses = [i.status for i in Invitee.select(Invitee.status).where(Invitee.event == event)]
    data = {
        "uri": event_uri(event),
        "name": event.name,
        "status": event.status,
        "booking_method": "instant",
        "start_time": isoformat(event.start_time),
        "end_time": isoformat(event.end_time),
        "event_type": event_type_uri(event.event_type),
        "location": _location(event),
        "invitees_counter": {
            "total": len(statuses),
            "active": sum(1 for status in statuses if status == "active"),
            "limit": event.invitees_limit,
        },
        "created_at": isoformat(event.created_at),
        "updated_at": isoformat(event.updated_at),
        "event_memberships": [
            {"user": user_uri(host), "user_email": host.email, "user_name": host.name} for host in hosts
        ],
        "event_guests": [
            {"email": g.email, "created_at": isoformat(g.created_at), "updated_at": isoformat(g.updated_at)}
            for g in guests
        ],
        "calendar_event": None,
        "meeting_notes_plain": None,
        "meeting_notes_html": None,
    }
    if event.status == "canceled":
        data["cancellation"] = _cancellation(event)
    return data


_READ = object()  # "not known here: read it"


def invitee_resource(invitee, no_show=_READ):
    """``no_show``: the invitee's InviteeNoShow row or None when the caller knows it (a new invitee has none)."""
    tracking = {key: (invitee.tracking or {}).get(key) for key in TRACKING_KEYS}
    data = {
        "uri": invitee_uri(invitee),
        "event": event_uri(invitee.event),
        "email": invitee.email,
        "name": invitee.name,
        "first_name": invitee.first_name,
        "last_name": invitee.last_name,
        "status": invitee.status,
        "timezone": invitee.timezone,
        "text_reminder_number": invitee.text_reminder_number,
        "questions_and_answers": invitee.questions_and_answers or [],
        "tracking": tracking,
        "rescheduled": invitee.rescheduled,
        "old_invitee": invitee_uri(invitee.old_invitee) if invitee.old_invitee_id else None,
        "new_invitee": invitee_uri(invitee.new_invitee) if invitee.new_invitee_id else None,
        "cancel_url": f"{base_url()}/cancellations/{invitee.uuid}",
        "reschedule_url": f"{base_url()}/reschedulings/{invitee.uuid}",
        "routing_form_submission": None,
        "payment": None,
        "no_show": _no_show_summary(invitee, no_show),
        "reconfirmation": None,
        "canceled": invitee.status == "canceled",
        "scheduling_method": None,
        "invitee_scheduled_by": None,
        "created_at": isoformat(invitee.created_at),
        "updated_at": isoformat(invitee.updated_at),
    }
    if invitee.status == "canceled":
        data["cancellation"] = _cancellation(invitee)
    return data


def _no_show_summary(invitee, no_show=_READ):
    """The invitee's ``no_show``: ``{uri, created_at}`` or null (API-FACTS §6)."""
    if no_show is _READ:
        no_show = InviteeNoShow.get_or_none(InviteeNoShow.invitee == invitee)
    return {"uri": no_show_uri(no_show), "created_at": isoformat(no_show.created_at)} if no_show else None


def no_show_resource(no_show):
    return {"uri": no_show_uri(no_show), "invitee": invitee_uri(no_show.invitee),
            "created_at": isoformat(no_show.created_at)}


# ------------------------------------------------------------------ webhooks
def subscription_resource(sub):
    return {
        "uri": subscription_uri(sub),
        "callback_url": sub.callback_url,
        "created_at": isoformat(sub.created_at),
        "updated_at": isoformat(sub.updated_at),
        "retry_started_at": isoformat(sub.retry_started_at),
        "state": sub.state,
        "events": sub.events,
        "scope": sub.scope,
        "organization": org_uri(sub.organization),
        "user": user_uri(sub.user) if sub.user_id else None,
        "group": None,
        "creator": user_uri(sub.creator),
    }


def invitee_webhook_resource(invitee, fresh=None):
    """The invitee.* / invitee_no_show.* payload: the Invitee with its scheduled event embedded.
    ``fresh`` = (hosts, guests) when the invitee and its event were just created (nothing to read back)."""
    if fresh is None:
        payload = invitee_resource(invitee)
        payload["scheduled_event"] = event_resource(invitee.event)
    else:
        payload = invitee_resource(invitee, no_show=None)
        payload["scheduled_event"] = event_resource(invitee.event, *fresh, statuses=[invitee.status])
    return payload


def envelope_json(event_name, creator, created_at, payload_json):
    """``json.dumps(<envelope>, separators=(",", ":"))`` byte for byte, around a payload serialised once."""
    head = json.dumps({"event": event_name, "created_at": isoformat(created_at), "created_by": user_uri(creator)},
                      separators=(",", ":"))
    return f'{head[:-1]},"payload":{payload_json}}}'


def event_type_webhook_payload(event_name, event_type, sub, created_at):
    """The event_type.* envelope: the event type as the API returns it (``deleted_at`` set once deleted)."""
    return {
        "event": event_name,
        "created_at": isoformat(created_at),
        "created_by": user_uri(sub.creator),
        "payload": event_type_resource(event_type),
    }


def _escape(text):
    return (text or "").replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
