"""Token issuance for the OAuth server: JWT-shaped access tokens, refresh tokens, and the token
endpoint's per-user rate count (API-FACTS §3, §8)."""
import base64
import hashlib
import hmac
import json
import secrets
import time
from datetime import timedelta

from flask import current_app, g

from .serializers import base_url, org_uri, user_uri
from .store import Token, token_hash, utcnow


def b64(data):
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _access_token(client, user, now, exp, scope):
    """A JWT-shaped opaque token (looked up by hash, so revocation is immediate)."""
    header = {"kid": "sandbox", "typ": "JWT", "alg": "HS256"}
    payload = {"iss": base_url(), "jti": secrets.token_hex(16), "user_uuid": user.uuid, "app_uid": client.client_id,
               "scope": scope, "iat": now, "exp": exp}
    signing_input = b64(json.dumps(header).encode()) + "." + b64(json.dumps(payload).encode())
    key = current_app.secret_key.encode() if isinstance(current_app.secret_key, str) else current_app.secret_key
    sig = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + b64(sig)


def issue_token(client, user, scope):
    ttl = int(current_app.config["SANDBOX_ACCESS_TOKEN_TTL"])
    now = int(time.time())
    access = _access_token(client, user, now, now + ttl, scope)
    refresh = secrets.token_hex(32)
    created = utcnow()
    Token.create(access_hash=token_hash(access), refresh_hash=token_hash(refresh), client=client, user=user,
                 scope=scope, created_at=created, expires_at=created + timedelta(seconds=ttl))
    return {
        "token_type": "Bearer", "expires_in": ttl, "created_at": now, "access_token": access,
        "refresh_token": refresh, "scope": scope, "owner": user_uri(user), "organization": org_uri(user.organization),
    }


def count_token_request(user):
    """API-FACTS §3/§8: 8 token requests per user per minute (the caller answers 429 when not allowed)."""
    state = current_app.extensions["sandbox"]
    limit = state.faults.get("token_rate_limit_per_minute") or current_app.config.get("SANDBOX_TOKEN_RATE_LIMIT")
    rate = state.token_limiter.hit(user.id, limit)
    g.token_rate = rate
    return rate


def rate_headers(response):
    """The X-RateLimit-* headers of API-FACTS §8 on token endpoint answers."""
    rate = g.get("token_rate")
    if rate is not None and rate.limit:
        response.headers["X-RateLimit-Limit"] = str(rate.limit)
        response.headers["X-RateLimit-Remaining"] = str(rate.remaining)
        response.headers["X-RateLimit-Reset"] = str(rate.reset)
        if not rate.allowed:
            response.headers["Retry-After"] = str(rate.reset)
