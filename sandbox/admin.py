"""``/_sandbox/``: the test-control API (JSON, no auth). Not part of Calendly."""
from datetime import timedelta

from flask import Blueprint, current_app, jsonify, request

from . import accounts, hotpath, no_shows, scheduling
from .accounts import AccountError
from .faults import FaultError
from .no_shows import NoShowError
from .scheduling import SchedulingError
from .serializers import (
    event_type_resource,
    event_uri,
    invitee_uri,
    no_show_resource,
    org_uri,
    organization_resource,
    subscription_uri,
    user_resource,
    user_uri,
)
from .store import (
    EventType,
    Invitee,
    InviteeNoShow,
    OAuthClient,
    Organization,
    Token,
    User,
    WebhookAttempt,
    WebhookSubscription,
    db,
    empty_all,
    isoformat,
    parse_time,
    utcnow,
)

bp = Blueprint("admin", __name__, url_prefix="/_sandbox")


class AdminError(Exception):
    def __init__(self, message, status=400):
        super().__init__(message)
        self.status = status


@bp.errorhandler(AdminError)
@bp.errorhandler(AccountError)
@bp.errorhandler(SchedulingError)
@bp.errorhandler(FaultError)
@bp.errorhandler(NoShowError)
def _error(err):
    return jsonify({"error": str(err)}), getattr(err, "status", 400)


def _json():
    body = request.get_json(silent=True)
    if body is None and not request.data:
        return {}
    if not isinstance(body, dict):
        raise AdminError("expected a JSON object body")
    return body


def _last_segment(value):
    return str(value).rstrip("/").rsplit("/", 1)[-1]


def find_user(value):
    """A user by URI, uuid or email."""
    if not value:
        raise AdminError("user is required")
    value = str(value)
    user = (User.get_or_none(User.email == value.strip().lower()) if "@" in value
            else User.get_or_none(User.uuid == _last_segment(value)))
    if user is None:
        raise AdminError(f"unknown user {value}", 404)
    return user


def _time(body, key, required=True):
    value = body.get(key)
    if value in (None, ""):
        if required:
            raise AdminError(f"{key} is required")
        return None
    try:
        return parse_time(value)
    except ValueError:
        raise AdminError(f"{key} must be an ISO 8601 timestamp") from None


def _user_payload(user):
    return {"user": user_resource(user), "organization": organization_resource(user.organization)}


# ------------------------------------------------------------------ accounts
@bp.post("/users")
def create_user():
    body = _json()
    org = None
    if body.get("organization"):
        org = Organization.get_or_none(Organization.uuid == _last_segment(body["organization"]))
        if org is None:
            raise AdminError("unknown organization", 404)
    user, _ = accounts.create_user(
        body.get("name"), body.get("email"), body.get("password"), plan=body.get("plan", "professional"),
        stage=body.get("stage", "paid"), timezone=body.get("timezone", "UTC"), organization=org,
        role=body.get("role"), org_name=body.get("organization_name"))
    return jsonify(_user_payload(user)), 201


@bp.get("/users")
def list_users():
    users = User.select().order_by(User.id)
    return jsonify({"collection": [_user_payload(u) for u in users]})


@bp.patch("/users/<uuid>")
def update_user(uuid):
    user = User.get_or_none(User.uuid == uuid)
    if user is None:
        raise AdminError("unknown user", 404)
    body = _json()
    accounts.update_plan(user, body.get("plan"), body.get("stage"))
    return jsonify(_user_payload(User.get_by_id(user.id)))


@bp.post("/oauth_clients")
def create_client():
    body = _json()
    client = accounts.register_client(body.get("name"), body.get("redirect_uris") or [],
                                      client_id=body.get("client_id"), client_secret=body.get("client_secret"),
                                      webhook_signing_key=body.get("webhook_signing_key"), scopes=body.get("scopes"))
    return jsonify({"client_id": client.client_id, "client_secret": client.client_secret,
                    "webhook_signing_key": client.webhook_signing_key}), 201


# ------------------------------------------------------------------ scheduling
@bp.post("/event_types")
def create_event_type():
    body = _json()
    hosts = [find_user(h) for h in body.get("hosts") or []]
    event_type = scheduling.create_event_type(
        body.get("name"), hosts, pooling_type=body.get("pooling_type"), duration=body.get("duration", 30),
        custom_questions=body.get("custom_questions"), kind=body.get("kind", "solo"),
        invitees_limit=body.get("invitees_limit"), location=body.get("location"),
        description=body.get("description"), active=body.get("active", True), secret=body.get("secret", False),
        slug=body.get("slug"))
    return jsonify(event_type_resource(event_type)), 201


def _event_type(uuid):
    event_type = EventType.get_or_none(EventType.uuid == uuid)
    if event_type is None or event_type.deleted_at is not None:
        raise AdminError("unknown event type", 404)
    return event_type


@bp.patch("/event_types/<uuid>")
def update_event_type(uuid):
    """Rename or (de)activate, as the host would in Calendly: fires ``event_type.updated``."""
    body = _json()
    unknown = set(body) - {"name", "active"}
    if unknown:
        raise AdminError(f"unknown fields: {', '.join(sorted(unknown))} (allowed: name, active)")
    event_type = scheduling.update_event_type(_event_type(uuid), name=body.get("name"), active=body.get("active"))
    return jsonify(event_type_resource(event_type))


@bp.delete("/event_types/<uuid>")
def delete_event_type(uuid):
    """Delete, as the host would in Calendly: fires ``event_type.deleted``; its bookings stay."""
    return jsonify(event_type_resource(scheduling.delete_event_type(_event_type(uuid))))


@bp.post("/bookings")
def create_booking():
    body = _json()
    event_type = hotpath.event_type(_last_segment(body.get("event_type") or ""))
    if event_type is None or event_type.deleted_at is not None:
        raise AdminError("unknown event_type", 404)
    invitee = body.get("invitee") or {}
    hosts = [find_user(h) for h in body["hosts"]] if body.get("hosts") else None
    row = scheduling.book(
        event_type, _time(body, "start_time"), invitee.get("name"), invitee.get("email"),
        guests=body.get("guests") or [], questions_and_answers=body.get("questions_and_answers") or [],
        timezone=invitee.get("timezone", "UTC"), text_reminder_number=invitee.get("text_reminder_number"),
        tracking=body.get("tracking"), created_at=_time(body, "created_at", required=False), hosts=hosts)
    return jsonify({"event": event_uri(row.event), "invitee": invitee_uri(row)}), 201


def _invitee(uuid):
    row = Invitee.get_or_none(Invitee.uuid == uuid)
    if row is None:
        raise AdminError("unknown invitee", 404)
    return row


@bp.post("/invitees/<uuid>/cancel")
def cancel_invitee(uuid):
    body = _json()
    row = scheduling.cancel(_invitee(uuid), reason=body.get("reason"), canceled_by=body.get("canceled_by"),
                            canceler_type=body.get("canceler_type", "invitee"))
    return jsonify({"invitee": invitee_uri(row)})


@bp.post("/invitees/<uuid>/reschedule")
def reschedule_invitee(uuid):
    body = _json()
    old = _invitee(uuid)
    new = scheduling.reschedule(old, _time(body, "start_time"))
    return jsonify({"event": event_uri(new.event), "invitee": invitee_uri(new),
                    "old_invitee": invitee_uri(old)}), 201


@bp.post("/invitees/<uuid>/no_show")
def mark_no_show(uuid):
    _json()
    return jsonify({"no_show": no_show_resource(no_shows.mark(_invitee(uuid)))}), 201


@bp.delete("/invitees/<uuid>/no_show")
def unmark_no_show(uuid):
    row = InviteeNoShow.get_or_none(InviteeNoShow.invitee == _invitee(uuid))
    if row is None:
        raise AdminError("this invitee is not marked as a no-show", 404)
    return jsonify({"invitee": invitee_uri(no_shows.unmark(row))})


# ------------------------------------------------------------------ webhooks
@bp.get("/webhook_subscriptions")
def list_subscriptions():
    rows = WebhookSubscription.select().order_by(WebhookSubscription.id)
    return jsonify({"collection": [{
        "uri": subscription_uri(s), "callback_url": s.callback_url, "state": s.state, "scope": s.scope,
        "events": s.events, "owner": user_uri(s.user or s.creator), "creator": user_uri(s.creator),
        "organization": org_uri(s.organization), "signing_key_set": bool(s.signing_key),
        "client_id": s.client.client_id if s.client_id else None, "retry_started_at": isoformat(s.retry_started_at),
        "deleted": s.deleted_at is not None, "created_at": isoformat(s.created_at),
        "deleted_at": isoformat(s.deleted_at),
    } for s in rows]})


@bp.get("/webhook_deliveries")
def list_deliveries():
    rows = WebhookAttempt.select().order_by(WebhookAttempt.id)
    if request.args.get("subscription"):
        sub = WebhookSubscription.get_or_none(
            WebhookSubscription.uuid == _last_segment(request.args["subscription"]))
        rows = rows.where(WebhookAttempt.subscription == sub)
    return jsonify({"collection": [{
        "id": a.id, "job": a.job_id, "subscription": subscription_uri(a.subscription), "url": a.url,
        "event": a.event, "invitee": None if a.event.startswith("event_type.") else a.invitee_uri,
        "resource": a.invitee_uri, "attempt": a.attempt, "status_code": a.status_code,
        "error": a.error, "dropped": a.dropped, "skipped": a.skipped, "sent_at": isoformat(a.sent_at),
    } for a in rows]})


# ------------------------------------------------------------------ faults
@bp.route("/faults", methods=["GET", "POST", "DELETE"])
def faults():
    state = current_app.extensions["sandbox"]
    if request.method == "POST":
        state.faults.update(_json())
    elif request.method == "DELETE":
        state.faults.clear()
        state.limiter.clear()
        state.token_limiter.clear()
    return jsonify(state.faults.as_dict())


# ------------------------------------------------------------------ tokens
@bp.get("/tokens")
def list_tokens():
    rows = Token.select().order_by(Token.id)
    if request.args.get("user"):
        rows = rows.where(Token.user == find_user(request.args["user"]))
    now = utcnow()
    out = []
    for t in rows:
        common = {"token_id": t.id, "user": user_uri(t.user), "client_id": t.client.client_id, "scope": t.scope,
                  "created_at": isoformat(t.created_at)}
        out.append({**common, "kind": "access", "revoked": t.access_revoked, "expired": t.expires_at <= now,
                    "expires_at": isoformat(t.expires_at)})
        out.append({**common, "kind": "refresh", "revoked": t.refresh_revoked, "expired": False,
                    "rotated": t.refresh_used_at is not None, "expires_at": None})
    return jsonify({"collection": out})


def _user_tokens(body):
    query = Token.select().where(Token.user == find_user(body.get("user")))
    if body.get("client_id"):
        query = query.join(OAuthClient).where(OAuthClient.client_id == body["client_id"])
    return [t.id for t in query]


@bp.post("/tokens/revoke_all")
def revoke_all():
    """The user removes the app in Calendly: every token of theirs dies."""
    ids = _user_tokens(_json())
    count = Token.update(revoked_at=utcnow()).where(Token.id.in_(ids), Token.revoked_at.is_null()).execute()
    return jsonify({"revoked": count})


@bp.post("/tokens/expire")
def expire():
    """Force the user's access tokens to be expired (refresh tokens keep working)."""
    ids = _user_tokens(_json())
    past = utcnow() - timedelta(seconds=1)
    count = Token.update(expires_at=past).where(Token.id.in_(ids), Token.expires_at > past).execute()
    return jsonify({"expired": count})


# ------------------------------------------------------------------ lifecycle
@bp.post("/reset")
def reset():
    """Empty everything; config clients are re-registered and demo data re-seeded when SANDBOX_DEMO is on."""
    body = _json()
    state = current_app.extensions["sandbox"]
    with db.atomic():
        empty_all(keep_clients=False)
        accounts.register_config_clients(current_app.config.get("SANDBOX_OAUTH_CLIENTS"))
    state.faults.clear()
    state.limiter.clear()
    state.token_limiter.clear()
    demo = body.get("demo", bool(current_app.config.get("SANDBOX_DEMO")))
    if demo:
        from .demo import seed

        seed()
    return jsonify({"status": "ok", "demo": bool(demo)})


@bp.get("/health")
def health():
    return jsonify({"status": "ok"})
