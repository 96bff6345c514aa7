"""Webhook subscriptions (API) and the fan-out of events to them (API-FACTS §7).

A change Calendly would announce calls ``fan_out`` (invitee.*, invitee_no_show.*)
or ``fan_out_event_type`` (event_type.*), which writes one ``WebhookJob`` per
covering subscription with the exact body to send; ``delivery`` sends them.
"""
import json

from flask import Blueprint, current_app, g, jsonify, request

from . import apikit, hotpath
from .apikit import ApiError
from .delivery import Sender, default_retry_schedule, make_executor, send_due, signature_header  # noqa: F401
from .scopes import EVENT_SCOPES
from .serializers import (
    envelope_json,
    event_type_uri,
    event_type_webhook_payload,
    invitee_uri,
    invitee_webhook_resource,
    subscription_resource,
    subscription_uri,
)
from .store import (
    WEBHOOK_EVENTS,
    EventMembership,
    EventTypeHost,
    Organization,
    User,
    WebhookJob,
    WebhookSubscription,
    db,
    utcnow,
)

bp = Blueprint("webhook_api", __name__)
apikit.install(bp)

# ------------------------------------------------------------------ API
def _visible(sub, user):
    if sub.deleted_at is not None:
        return False
    if sub.scope == "organization":
        return apikit.role_in(user, sub.organization) is not None
    return sub.user_id == user.id or sub.creator_id == user.id or apikit.is_admin(user, sub.organization)


@bp.post("/webhook_subscriptions")
def create_subscription():
    user = g.api_user
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise apikit.invalid("body", "must be a JSON object")
    missing = [k for k in ("url", "events", "organization", "scope") if body.get(k) in (None, "", [])]
    if body.get("scope") == "user" and not body.get("user"):
        missing.append("user")
    if missing:
        raise apikit.missing(*missing)
    details = []
    url = body["url"]
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        details.append({"parameter": "url", "message": "must be a valid URL"})
    events = body["events"]
    if not isinstance(events, list) or not all(e in WEBHOOK_EVENTS for e in events):
        details.append({"parameter": "events", "message": f"must only contain {', '.join(WEBHOOK_EVENTS)}"})
    if body["scope"] not in ("user", "organization"):
        details.append({"parameter": "scope", "message": "must be one of user, organization"})
    signing_key = body.get("signing_key")
    if signing_key is not None and (not isinstance(signing_key, str) or not signing_key):
        details.append({"parameter": "signing_key", "message": "must be a non-empty string"})
    if details:
        raise ApiError(400, details=details)
    for event in dict.fromkeys(events):  # each event needs its scope too (API-FACTS §3, "Webhooks")
        apikit.require_scope(EVENT_SCOPES[event])
    org = apikit.resource_param("organization", "organizations", Organization, args=body)
    target = apikit.resource_param("user", "users", User, args=body) if body["scope"] == "user" else None
    role = apikit.role_in(user, org)
    if role is None:
        raise ApiError(403, "You do not have permission to access this resource.")
    if not org.webhooks_allowed:
        raise ApiError(403, "Please upgrade your Calendly account to Standard")
    if body["scope"] == "organization" and role not in ("admin", "owner"):
        raise ApiError(403, "You do not have permission to access this resource.")
    if target is not None and target.id != user.id:
        raise ApiError(403, "You do not have permission")
    with db.atomic():
        duplicate = WebhookSubscription.select().where(
            WebhookSubscription.callback_url == url, WebhookSubscription.organization == org,
            WebhookSubscription.deleted_at.is_null()).exists()
        if duplicate:
            raise ApiError(409, "Hook with this url already exists")
        now = utcnow()
        sub = WebhookSubscription.create(
            callback_url=url, events=list(dict.fromkeys(events)), scope=body["scope"], organization=org,
            user=target, creator=user, client=g.api_token.client, signing_key=signing_key,
            created_at=now, updated_at=now)
    return apikit.created(subscription_resource(sub), subscription_uri(sub))


@bp.get("/webhook_subscriptions")
def list_subscriptions():
    user = g.api_user
    missing = [k for k in ("organization", "scope") if not request.args.get(k)]
    if request.args.get("scope") == "user" and not request.args.get("user"):
        missing.append("user")
    if missing:
        raise apikit.missing(*missing)
    scope = apikit.enum_param("scope", ("user", "organization"))
    org = apikit.resource_param("organization", "organizations", Organization)
    role = apikit.role_in(user, org)
    if role is None:
        raise ApiError(403, "You do not have permission")
    query = WebhookSubscription.select().where(
        WebhookSubscription.organization == org, WebhookSubscription.scope == scope,
        WebhookSubscription.deleted_at.is_null())
    if scope == "organization" and role not in ("admin", "owner"):
        raise ApiError(403, "You do not have permission to access this resource.")
    if scope == "user":
        target = apikit.resource_param("user", "users", User)
        if target.id != user.id and role not in ("admin", "owner"):
            raise ApiError(403, "You do not have permission to access this resource.")
        query = query.where(WebhookSubscription.user == target)
    order = apikit.sort_param(("created_at",), "created_at:asc")
    return jsonify(apikit.paginate(query, WebhookSubscription, order, subscription_resource))


def _get_visible(uuid):
    sub = WebhookSubscription.get_or_none(WebhookSubscription.uuid == uuid)
    if sub is None or not _visible(sub, g.api_user):
        raise ApiError(404)
    return sub


@bp.get("/webhook_subscriptions/<uuid>")
def get_subscription(uuid):
    return jsonify({"resource": subscription_resource(_get_visible(uuid))})


@bp.delete("/webhook_subscriptions/<uuid>")
def delete_subscription(uuid):
    sub = _get_visible(uuid)
    if sub.scope == "organization" and not apikit.is_admin(g.api_user, sub.organization):
        raise ApiError(403)
    sub.deleted_at = sub.updated_at = utcnow()
    sub.save()
    return "", 204


# ------------------------------------------------------------------ fan-out
def _active_covering(org_id, host_ids, event_name):
    """Active subscriptions of the organization, or of one of ``host_ids``, that asked for ``event_name``
    (each with its creator, whom the envelope names)."""
    return [s for s in hotpath.active_covering(org_id, host_ids) if event_name in s.events]


def covering_subscriptions(event, event_name, host_ids=None):
    """Active subscriptions of the event's organization, or of one of its hosts (``host_ids`` if known)."""
    if host_ids is None:
        host_ids = [m.user_id for m in EventMembership.select(EventMembership.user).where(EventMembership.event == event)]
    return _active_covering(event.organization_id, host_ids, event_name)


def _queue(subs, event_name, about_uri, build):
    """One job per subscription; ``build(sub, now)`` gives the exact body."""
    now = utcnow()
    jobs = []
    for sub in subs:
        body = build(sub, now)
        jobs.append(hotpath.create(WebhookJob, subscription=sub, event=event_name, invitee_uri=about_uri,
                                      body=body, next_attempt_at=now, created_at=now))
    state = current_app.extensions.get("sandbox")
    if jobs and state is not None:
        db.after_commit(state.wake_sender)  # woken before the commit, it would find nothing and sleep a tick
    return jobs


def fan_out(invitee, event_name, fresh=None):
    """Queue ``event_name`` (invitee.* or invitee_no_show.*) about ``invitee`` for every covering subscription.

    ``fresh`` = (hosts, guests) when ``invitee`` and its event were just created: the hosts and guests are
    those rows, it is the event's only invitee and has no no-show, so nothing is read back."""
    host_ids = [h.id for h in fresh[0]] if fresh is not None else None
    subs = covering_subscriptions(invitee.event, event_name, host_ids)
    if not subs:
        return []
    payload = json.dumps(invitee_webhook_resource(invitee, fresh), separators=(",", ":"))  # the same for every sub
    return _queue(subs, event_name, invitee_uri(invitee),
                  lambda sub, now: envelope_json(event_name, sub.creator, now, payload))


def fan_out_event_type(event_type, event_name):
    """Queue ``event_name`` (event_type.*) for the organization's and the hosts' subscriptions."""
    host_ids = [h.user_id for h in EventTypeHost.select().where(EventTypeHost.event_type == event_type)]
    subs = _active_covering(event_type.organization_id, host_ids, event_name)
    return _queue(subs, event_name, event_type_uri(event_type),
                  lambda sub, now: json.dumps(event_type_webhook_payload(event_name, event_type, sub, now),
                                              separators=(",", ":")))
