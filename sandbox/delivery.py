"""The webhook sender: signed POSTs of queued jobs, the delivery log, retries,
410 handling and Calendly's delivery timeouts (API-FACTS §7).

``send_due`` (run by a background ``Sender`` thread, or called directly by tests)
POSTs due jobs, logs every attempt in ``WebhookAttempt`` and schedules retries;
when the retry budget runs out with nothing delivered, the subscription becomes
``disabled``; a receiver answering 410 Gone gets its subscription deleted at once.
"""
import hashlib
import hmac
import http.cookiejar
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import peewee as pw
import requests
from flask import current_app

from . import hotpath
from .store import WebhookAttempt, WebhookJob, WebhookSubscription, db, utcnow

_local = threading.local()  # one requests.Session per sender thread (a Session is not shared across threads)


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


class _NoCookies(http.cookiejar.CookiePolicy):
    """A kept Session must not carry a receiver's cookies into later deliveries (each POST stands alone)."""

    netscape, rfc2965, hide_cookie2 = True, False, False

    def set_ok(self, cookie, request):
        return False

    def return_ok(self, cookie, request):
        return False

    def domain_return_ok(self, domain, request):
        return False

    def path_return_ok(self, path, request):
        return False


def _session():
    """This thread's Session: connections to a receiver are kept alive between deliveries (as Calendly's are)."""
    session = getattr(_local, "session", None)
    if session is None:
        session = _local.session = requests.Session()
        session.cookies.set_policy(_NoCookies())
    return session


# ------------------------------------------------------------------ sender
def send_due(app=None, now=None, limit=50):
    """Attempt every due job once; returns how many were processed."""
    app = app or current_app._get_current_object()
    with app.app_context():
        now = now or utcnow()
        with db.atomic():
            jobs = hotpath.due_jobs(now, limit)
            if jobs:
                hotpath.claim([job_id for job_id, _ in jobs])
    if not jobs:
        return 0
    # In order within a subscription, in parallel across subscriptions (a slow receiver delays only itself).
    lanes = {}
    for job_id, subscription_id in jobs:
        lanes.setdefault(subscription_id, []).append(job_id)
    state = app.extensions["sandbox"]
    list(state.executor.map(lambda ids: [_attempt(app, job_id) for job_id in ids], lanes.values()))
    return len(jobs)


def _log(job, sub, **fields):
    return hotpath.create(WebhookAttempt, job=job, subscription=sub, url=sub.callback_url, event=job.event,
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
    job = hotpath.job_to_send(job_id)  # with its subscription and the subscription's organization
    sub = job.subscription
    number = job.attempts + 1
    skip = ("deleted" if sub.deleted_at else "disabled" if sub.state != "active"
            else "plan" if not sub.organization.webhooks_allowed else None)
    if skip:
        with db.atomic():
            _log(job, sub, attempt=number, skipped=skip, error=f"skipped: {skip}")
            job.status = "skipped"
            hotpath.save_job_state(job)
        return
    faults = app.extensions["sandbox"].faults
    delay = faults.get("webhook_delay_ms")
    if delay:
        time.sleep(delay / 1000)
    if faults.roll("webhook_drop_rate"):
        with db.atomic():
            _log(job, sub, attempt=number, dropped=True, error="dropped by fault injection")
            job.status, job.attempts = "dropped", number
            hotpath.save_job_state(job)
        return
    headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": "Calendly Sandbox Webhooks"}
    key = sub.signing_key or (sub.client.webhook_signing_key if sub.client_id else None)
    body = job.body.encode()
    if key:
        headers["Calendly-Webhook-Signature"] = signature_header(key, body)
    status_code = error = None
    # Calendly's delivery timeouts: 10 s to connect, 15 s to read (a timeout is a failure, retried).
    timeout = (app.config["SANDBOX_WEBHOOK_CONNECT_TIMEOUT"], app.config["SANDBOX_WEBHOOK_READ_TIMEOUT"])
    try:
        resp = _session().post(sub.callback_url, data=body, headers=headers, timeout=timeout, allow_redirects=False)
        status_code = resp.status_code
        if not 200 <= status_code < 300:
            error = f"HTTP {status_code}"
    except requests.RequestException as exc:
        error = f"{type(exc).__name__}: {exc}"[:500]
    now = utcnow()
    with db.atomic():
        if error is None:  # delivered: the subscription's retry period, if one had started, ends
            _log(job, sub, attempt=number, status_code=status_code)
            job.status, job.attempts, job.first_attempt_at = "delivered", number, job.first_attempt_at or now
            hotpath.end_retry(sub.id, now)
            hotpath.save_job_state(job)
            return
        sub = WebhookSubscription.get_by_id(sub.id)  # as it is now (the API may have deleted it meanwhile)
        _log(job, sub, attempt=number, status_code=status_code, error=error)
        job.attempts = number
        job.first_attempt_at = job.first_attempt_at or now
        if status_code == 410:
            # 410 Gone: Calendly deletes the subscription at once and does not retry.
            job.status = "failed"
            if sub.deleted_at is None:
                sub.deleted_at = sub.updated_at = now
                sub.save()
        else:
            _schedule_retry(app, job, sub, now)
        hotpath.save_job_state(job)


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
