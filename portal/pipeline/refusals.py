"""Refused webhook requests: a small bounded record each, and rate limits on recording them (issue 12).

Anyone can post to the intake, so what a refused request leaves behind is
bounded whatever it carries: the reason, the answer's status, its sizes, a
few named headers cut to ``HEADER_KEEP_CHARS`` and at most ``BODY_KEEP_BYTES``
of its body (minimized like an accepted one, SPEC E2).

Recording is rate limited per webhook token and globally, with fixed
one-minute windows counted in Redis (``INCR`` + ``EXPIRE``: redis-py has no
limiter of its own and one pipelined round trip is all it costs). Beyond a
limit the refusal is still answered with its status, but not recorded; the
first refusal over a limit in a window is logged with the limit. While Redis
cannot count, refusals are answered and not recorded either: an outage must
not open the door the limits close.
"""
import hashlib
import json
import logging
import time

from flask import current_app
from redis.exceptions import RedisError

from portal.models import DeliveryState, WebhookDelivery
from portal.queues import get_redis
from portal.sync.booking import minimize

log = logging.getLogger(__name__)

# The headers support needs to tell a misconfigured Calendly from noise; nothing else is kept.
KEPT_HEADERS = ("Content-Type", "Content-Length", "User-Agent", "Calendly-Webhook-Signature", "X-Forwarded-For")
HEADER_KEEP_CHARS = 200
BODY_KEEP_BYTES = 1024
TOKEN_KEEP_CHARS = 64
WINDOW_SECONDS = 60
KEY_PREFIX = "calbridge:refusals"


def record(connection_id, webhook_token, headers, body, status, reason, body_size=None):
    """Keep a bounded record of one refusal unless a limit is reached; returns its delivery id or None."""
    if not _within_limits(webhook_token or ""):
        return None
    delivery = WebhookDelivery.create(
        connection=connection_id, webhook_token=(webhook_token or "")[:TOKEN_KEEP_CHARS],
        headers=summary(headers, body, status, body_size), body=kept_body(body),
        state=DeliveryState.REJECTED, error=reason[:1000],
    )
    log.warning("webhook delivery %s refused (%s): %s", delivery.id, status, reason)
    return delivery.id


def summary(headers, body, status, body_size=None):
    """The kept headers and the request's sizes, as the JSON stored in ``WebhookDelivery.headers``."""
    kept = {}
    for name in KEPT_HEADERS:
        value = headers.get(name)
        if value is not None:
            kept[name] = value[:HEADER_KEEP_CHARS]
    items = list(headers.items())
    kept["_refused"] = {
        "status": status,
        "header_count": len(items),
        "header_bytes": sum(len(k) + len(v) for k, v in items),
        "body_bytes": body_size if body_size is not None else len(body or b""),
    }
    return json.dumps(kept)


def kept_body(body):
    """At most ``BODY_KEEP_BYTES`` of the body as text (UTF-8), minimized first when it is JSON (E2)."""
    text = body.decode("utf-8", errors="replace") if isinstance(body, bytes) else (body or "")
    try:
        text = json.dumps(minimize(json.loads(text)))
    except (ValueError, RecursionError):
        pass
    raw = text.encode("utf-8")
    if len(raw) <= BODY_KEEP_BYTES:
        return text
    note = f"… [{len(raw)} bytes, the rest not kept]"
    head = raw[:BODY_KEEP_BYTES - len(note.encode("utf-8"))]
    return head.decode("utf-8", errors="ignore") + note


def _within_limits(webhook_token):
    cfg = current_app.config
    per_token, overall = cfg["WEBHOOK_REFUSALS_PER_TOKEN_PER_MINUTE"], cfg["WEBHOOK_REFUSALS_PER_MINUTE"]
    window = int(time.time() // WINDOW_SECONDS)
    # A digest, not the token: whatever was posted stays out of Redis keys.
    token_key = f"{KEY_PREFIX}:token:{hashlib.sha256(webhook_token.encode()).hexdigest()[:24]}:{window}"
    all_key = f"{KEY_PREFIX}:all:{window}"
    try:
        pipe = get_redis().pipeline(transaction=False)
        for key in (token_key, all_key):
            pipe.incr(key)
            pipe.expire(key, WINDOW_SECONDS * 2)
        for_token, _, for_all, _ = pipe.execute()
    except RedisError as exc:
        log.warning("webhook refusal not recorded: Redis cannot count refusals (%s)", exc)
        return False
    if for_token == per_token + 1:
        log.warning("more than %d refused webhook requests this minute for one address: answered, not recorded",
                    per_token)
    if for_all == overall + 1:
        log.warning("more than %d refused webhook requests this minute: answered, not recorded", overall)
    return for_token <= per_token and for_all <= overall
