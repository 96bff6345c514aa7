"""Webhook subscriptions (API), the signed sender with retries, and its delivery log (API-FACTS §7).

A booking change calls ``fan_out``, which writes one ``WebhookJob`` per covering
subscription with the exact body to send. ``send_due`` (run by a background
thread, or called directly by tests) POSTs due jobs, logs every attempt in
``WebhookAttempt`` and schedules retries; when the retry budget runs out with
nothing delivered, the subscription becomes ``disabled``.
"""
import hashlib
import hmac
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import peewee as pw
import requests
from flask import Blueprint, current_app, g, jsonify, request

from . import apikit
from .apikit import ApiError
from .serializers import invitee_uri, subscription_resource, subscription_uri, webhook_payload
from .store import (
    WEBHOOK_EVENTS,
    EventMembership,
    Organization,
    User,
    WebhookAttempt,
    WebhookJob,
    WebhookSubscription,
    db,
    utcnow,
)

bp = Blueprint("webhook_api", __name__)
apikit.install(bp)

SEND_TIMEOUT = 5  # seconds per delivery attempt


def default_retry_schedule(first=5, factor=5, budget=86400):
    """Exponential back-off whose delays add up to exactly ``budget`` seconds."""
    delays, delay = [], first
    while sum(delays) + delay < budget:
        delays.append(delay)
        delay *= factor
    delays.append(budget - sum(delays))
    return delays


def signature_header(key, body, timestamp=None):
    """``t=<unix>,v1=<hex hmac-sha256(key, "<t>.<body>")>``."""
    t = str(int(timestamp if timestamp is not None else time.time()))
    raw = body if isinstance(body, bytes) else body.encode()
    mac = hmac.new(key.encode(), t.encode() + b"." + raw, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


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
    response = jsonify({"resource": subscription_resource(sub)})
    response.status_code = 201
    response.headers["Location"] = subscription_uri(sub)
    return response


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
def covering_subscriptions(event, event_name):
    """Active subscriptions of the event's organization, or of one of its hosts."""
    host_ids = [m.user_id for m in EventMembership.select().where(EventMembership.event == event)]
    subs = WebhookSubscription.select().where(
        WebhookSubscription.deleted_at.is_null(), WebhookSubscription.state == "active",
        ((WebhookSubscription.scope == "organization") & (WebhookSubscription.organization == event.organization_id))
        | ((WebhookSubscription.scope == "user") & (WebhookSubscription.user.in_(host_ids or [0]))))
    return [s for s in subs.order_by(WebhookSubscription.id) if event_name in s.events]


def fan_out(invitee, event_name):
    """Queue ``event_name`` about ``invitee`` for every covering subscription."""
    now = utcnow()
    jobs = []
    for sub in covering_subscriptions(invitee.event, event_name):
        body = json.dumps(webhook_payload(event_name, invitee, sub, now), separators=(",", ":"))
        jobs.append(WebhookJob.create(subscription=sub, event=event_name, invitee_uri=invitee_uri(invitee),
                                      body=body, next_attempt_at=now, created_at=now))
    state = current_app.extensions.get("sandbox")
    if jobs and state is not None:
        state.wake_sender()
    return jobs


# ------------------------------------------------------------------ sender
def send_due(app=None, now=None, limit=50):
    """Attempt every due job once; returns how many were processed."""
    app = app or current_app._get_current_object()
    with app.app_context():
        now = now or utcnow()
        with db.atomic():
            jobs = list(WebhookJob.select().where(WebhookJob.status == "pending", WebhookJob.next_attempt_at <= now)
                        .order_by(WebhookJob.next_attempt_at, WebhookJob.id).limit(limit))
            if jobs:
                WebhookJob.update(status="sending").where(WebhookJob.id.in_([j.id for j in jobs])).execute()
    if not jobs:
        return 0
    # In order within a subscription, in parallel across subscriptions (a slow receiver delays only itself).
    lanes = {}
    for job in jobs:
        lanes.setdefault(job.subscription_id, []).append(job.id)
    state = app.extensions["sandbox"]
    list(state.executor.map(lambda ids: [_attempt(app, job_id) for job_id in ids], lanes.values()))
    return len(jobs)


def _log(job, sub, **fields):
    return WebhookAttempt.create(job=job, subscription=sub, url=sub.callback_url, event=job.event,
                                 invitee_uri=job.invitee_uri, sent_at=utcnow(), **fields)


def _attempt(app, job_id):
    with app.app_context():
        try:
            _attempt_in_context(app, job_id)
        except (WebhookJob.DoesNotExist, WebhookSubscription.DoesNotExist, pw.IntegrityError):
            pass  # the job vanished under us (``/_sandbox/reset``): nothing left to deliver or log
        finally:
            if not db.is_closed():
                db.close()


def _attempt_in_context(app, job_id):
    job = WebhookJob.get_by_id(job_id)
    sub = job.subscription
    number = job.attempts + 1
    skip = ("deleted" if sub.deleted_at else "disabled" if sub.state != "active"
            else "plan" if not sub.organization.webhooks_allowed else None)
    if skip:
        with db.atomic():
            _log(job, sub, attempt=number, skipped=skip, error=f"skipped: {skip}")
            job.status = "skipped"
            job.save()
        return
    faults = app.extensions["sandbox"].faults
    delay = faults.get("webhook_delay_ms")
    if delay:
        time.sleep(delay / 1000)
    if faults.roll("webhook_drop_rate"):
        with db.atomic():
            _log(job, sub, attempt=number, dropped=True, error="dropped by fault injection")
            job.status, job.attempts = "dropped", number
            job.save()
        return
    headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": "Calendly Sandbox Webhooks"}
    key = sub.signing_key or (sub.client.webhook_signing_key if sub.client_id else None)
    body = job.body.encode()
    if key:
        headers["Calendly-Webhook-Signature"] = signature_header(key, body)
    status_code = error = None
    try:
        resp = requests.post(sub.callback_url, data=body, headers=headers, timeout=SEND_TIMEOUT,
                             allow_redirects=False)
        status_code = resp.status_code
        if not 200 <= status_code < 300:
            error = f"HTTP {status_code}"
    except requests.RequestException as exc:
        error = f"{type(exc).__name__}: {exc}"[:500]
    now = utcnow()
    with db.atomic():
        sub = WebhookSubscription.get_by_id(sub.id)
        _log(job, sub, attempt=number, status_code=status_code, error=error)
        job.attempts = number
        job.first_attempt_at = job.first_attempt_at or now
        if error is None:
            job.status = "delivered"
            if sub.retry_started_at is not None:
                sub.retry_started_at, sub.updated_at = None, now
                sub.save()
        else:
            _schedule_retry(app, job, sub, now)
        job.save()


def _schedule_retry(app, job, sub, now):
    if sub.retry_started_at is None:
        sub.retry_started_at = sub.updated_at = now
        sub.save()
    schedule = app.config["SANDBOX_WEBHOOK_RETRY_SCHEDULE"]
    budget = timedelta(seconds=app.config["SANDBOX_WEBHOOK_RETRY_BUDGET"])
    index = job.attempts - 1
    if index < len(schedule):
        next_at = now + timedelta(seconds=schedule[index])
        if next_at - job.first_attempt_at <= budget:
            job.status, job.next_attempt_at = "pending", next_at
            return
    job.status = "failed"
    if sub.retry_started_at is not None and sub.state == "active":
        sub.state, sub.updated_at = "disabled", now
        sub.save()


class Sender(threading.Thread):
    """Background thread running ``send_due`` every ``interval`` seconds (or when woken)."""

    def __init__(self, app, interval=0.1):
        super().__init__(name="sandbox-webhook-sender", daemon=True)
        self.app, self.interval = app, interval
        self._stop_event, self._wake = threading.Event(), threading.Event()

    def run(self):
        while not self._stop_event.is_set():
            try:
                send_due(self.app)
            except Exception:  # keep sending; the next tick retries
                self.app.logger.exception("webhook sender tick failed")
            self._wake.wait(self.interval)
            self._wake.clear()

    def wake(self):
        self._wake.set()

    def stop(self, timeout=5):
        self._stop_event.set()
        self._wake.set()
        if self.is_alive():
            self.join(timeout)


def make_executor():
    return ThreadPoolExecutor(max_workers=8, thread_name_prefix="sandbox-webhook")
