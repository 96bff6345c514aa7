"""Every HTTP call the portal makes to Calendly (or the sandbox: only base URLs differ, SPEC R2).

``CalendlyClient(connection)`` speaks for one connection. It

- renews the access token before it expires (SPEC C6; ``tokens.TokenRenewal``:
  one Redis lock per connection, as refresh tokens are single-use);
- on a 401 renews and retries (another worker's renewal adopted; at most
  two of its own);
- spends at most ``CALENDLY_TOKEN_REQUESTS_PER_MINUTE`` token requests per
  Calendly user and minute (Calendly allows 8; ``token_budget``);
- waits out a short 429 (``X-RateLimit-Reset`` / ``Retry-After``), otherwise
  raises ``RateLimited``;
- retries 5xx and network errors with exponential backoff (urllib3's
  ``Retry`` on the session's adapter), then raises ``TransientError``;
- sets the connection's status when Calendly says the owner must act:
  **Reconnect needed** when the tokens are refused or lack a scope the call
  needs (403 ``Permission Denied`` naming it, API-FACTS §3), **Plan not supported**
  on the plan gate (SPEC C5, S1).

Tokens never reach a log line or an exception message.
"""
import logging
import time
from datetime import timedelta
from urllib.parse import urlsplit

import requests
from flask import current_app

from portal.calendly.errors import (
    CalendlyError,
    MissingScope,
    NotFound,
    PlanNotSupported,
    RateLimited,
    ReconnectNeeded,
    TransientError,
    error_from_body,
    missing_scope_message,
    scope_named_in,
)
from portal.calendly.tokens import TokenRenewal, expires_at
from portal.calendly.transport import json_body as _json, retry_after as _retry_after, retrying
from portal.sync.webhook_events import INVITEE_EVENTS
from portal.models import CalendlyConnection, Status
from portal.timeutil import to_iso

log = logging.getLogger(__name__)

PAGE_SIZE = 100
WEBHOOK_EVENTS = INVITEE_EVENTS  # the events a subscription gets when the caller names none
MAX_OWN_RENEWALS = 2


def is_plan_gate(message):
    """Calendly's plan gate says "Please upgrade ..." (SPEC C5; API-FACTS §4)."""
    return "upgrade" in (message or "").lower()


class CalendlyClient(TokenRenewal):
    """The Calendly API v2 as one connection sees it."""

    def __init__(self, connection, *, sleep=time.sleep, attempts=None):
        cfg = current_app.config
        self.connection = connection
        self.api_base = cfg["CALENDLY_API_BASE"].rstrip("/")
        self.auth_base = cfg["CALENDLY_AUTH_BASE"].rstrip("/")
        self.timeout = cfg.get("CALENDLY_HTTP_TIMEOUT", 10)
        self.refresh_margin = timedelta(seconds=cfg.get("TOKEN_REFRESH_MARGIN_SECONDS", 300))
        self.max_attempts = attempts or cfg.get("CALENDLY_MAX_ATTEMPTS", 3)
        self.backoff = cfg.get("CALENDLY_RETRY_BACKOFF_SECONDS", 0.5)
        self.max_rate_wait = cfg.get("CALENDLY_RATE_LIMIT_MAX_WAIT_SECONDS", 5)
        self.token_requests_per_minute = cfg.get("CALENDLY_TOKEN_REQUESTS_PER_MINUTE", 7)
        self.redis_url = cfg.get("REDIS_URL")
        self.client_id = cfg.get("CALENDLY_CLIENT_ID")
        self.client_secret = cfg.get("CALENDLY_CLIENT_SECRET")
        self.sleep = sleep
        self.http = self._mount(requests.Session())
        self.http.headers["User-Agent"] = "Calbridge/1.0"
        self.http.headers["Accept"] = "application/json"

    def _mount(self, session):
        return retrying(session, attempts=self.max_attempts, backoff=self.backoff,
                        sleep=lambda seconds: self.sleep(seconds))

    @classmethod
    def for_token(cls, token, **kwargs):
        """A client for a token fresh from the OAuth exchange, before any connection is saved."""
        connection = CalendlyConnection(
            access_token=token.get("access_token"),
            refresh_token=token.get("refresh_token"),
            token_expires_at=expires_at(token),
            calendly_user_uri=token.get("owner") or "",
            organization_uri=token.get("organization") or "",
        )
        return cls(connection, **kwargs)

    def close(self):
        self.http.close()

    # ------------------------------------------------------------ resources
    def me(self):
        return self._get("/users/me")["resource"]

    def get_organization(self, uri):
        return self._get(uri)["resource"]

    def list_event_types(self, user_uri):
        """Every event type of ``user_uri`` (all pages, active and inactive)."""
        return list(self._paginate("/event_types", {"user": user_uri}))

    def list_event_type_hosts(self, event_type_uri):
        """The event type's memberships (all pages): dicts with ``member`` = the host's user resource."""
        return list(self._paginate("/event_type_memberships", {"event_type": event_type_uri}))

    def list_scheduled_events(self, *, user_uri, min_start_time=None, max_start_time=None, status=None,
                              sort="start_time:asc"):
        """A generator over every page of the user's scheduled events."""
        params = {"user": user_uri, "sort": sort}
        if min_start_time is not None:
            params["min_start_time"] = _time_param(min_start_time)
        if max_start_time is not None:
            params["max_start_time"] = _time_param(max_start_time)
        if status:
            params["status"] = status
        return self._paginate("/scheduled_events", params)

    def list_invitees(self, event_uri):
        """A generator over every invitee of a scheduled event."""
        return self._paginate(self._path(event_uri).rstrip("/") + "/invitees", {})

    def get_invitee(self, uri):
        return self._get(uri)["resource"]

    def get_event(self, uri):
        return self._get(uri)["resource"]

    def get_event_type(self, uri):
        """One event type by URI; a deleted one is still readable, with ``deleted_at`` set (API-FACTS §5)."""
        return self._get(uri)["resource"]

    # ------------------------------------------------------------ webhooks (C7)
    def create_webhook_subscription(self, url, signing_key, events=WEBHOOK_EVENTS):
        """Subscribe ``url`` to this user's ``events``, signed with ``signing_key``.

        A 409 (the URL is already subscribed: our own earlier attempt whose
        answer was lost) returns that existing subscription instead.
        """
        c = self.connection
        body = {
            "url": url,
            "events": list(events),
            "organization": c.organization_uri,
            "user": c.calendly_user_uri,
            "scope": "user",
            "signing_key": signing_key,
        }
        try:
            return self._request("POST", "/webhook_subscriptions", json=body).json()["resource"]
        except CalendlyError as exc:
            if exc.status != 409:
                raise
            for sub in self.list_webhook_subscriptions():
                if sub.get("callback_url") == url:
                    return sub
            raise

    def list_webhook_subscriptions(self):
        c = self.connection
        return list(self._paginate(
            "/webhook_subscriptions",
            {"organization": c.organization_uri, "user": c.calendly_user_uri, "scope": "user"},
        ))

    def get_webhook_subscription(self, uri):
        return self._get(uri)["resource"]

    def delete_webhook_subscription(self, uri):
        """Delete the subscription; False when Calendly no longer had it."""
        try:
            self._request("DELETE", uri)
        except NotFound:
            return False
        return True

    # ------------------------------------------------------------ HTTP core
    def _get(self, path, params=None):
        return self._request("GET", path, params=params).json()

    def _paginate(self, path, params):
        """Yield every item of a collection, following ``pagination.next_page`` until null."""
        url, query = path, {**params, "count": PAGE_SIZE}
        while url:
            data = self._request("GET", url, params=query).json()
            yield from data.get("collection") or []
            pagination = data.get("pagination") or {}
            next_page = pagination.get("next_page")
            if next_page and self._on_api_host(next_page):
                url, query = next_page, None  # next_page repeats the filters
            elif pagination.get("next_page_token"):
                query = {**params, "count": PAGE_SIZE, "page_token": pagination["next_page_token"]}
            else:
                url = None

    def _request(self, method, path, *, params=None, json=None):
        url = self.api_base + self._path(path)
        self.ensure_fresh_token()
        # A 401 renews the token and tries again: at most MAX_OWN_RENEWALS renewals of this call's own (a
        # token rejected right after its own renewal is a dead grant), and as many adoptions of a token
        # another worker renewed meanwhile as there are attempts.
        renewals = adoptions = 0
        rate_waits = 0
        while True:
            token = self.connection.access_token
            resp = self._send(method, url, params=params, json=json,
                              headers={"Authorization": f"Bearer {token}"})
            if (resp.status_code == 401 and self.connection.refresh_token
                    and renewals < MAX_OWN_RENEWALS and adoptions < self.max_attempts):
                if self._refresh(force=True, rejected_access_token=token):
                    renewals += 1
                else:
                    adoptions += 1
                continue
            if resp.status_code == 429:
                wait = _retry_after(resp)
                if wait <= self.max_rate_wait and rate_waits < self.max_attempts:
                    rate_waits += 1
                    log.info("Calendly rate limit: waiting %.1fs", wait)
                    self.sleep(wait)
                    continue
                raise RateLimited("Calendly is rate limiting this account", retry_after=wait)
            if resp.status_code >= 500:
                title, message = error_from_body(resp.status_code, _json(resp))
                raise TransientError(message or "Calendly had a server error", status=resp.status_code, title=title)
            if resp.status_code >= 400:
                raise self._error(resp)
            return resp

    def _send(self, method, url, **kwargs):
        """Send (the adapter retries 5xx and network errors with backoff); return the last response."""
        try:
            resp = self.http.request(method, url, timeout=self.timeout, **kwargs)
        except requests.RequestException as exc:
            log.warning("Calendly %s %s: %s", method, urlsplit(url).path, exc.__class__.__name__)
            raise TransientError(f"Calendly could not be reached ({exc.__class__.__name__})") from None
        log.debug("Calendly %s %s -> %s", method, urlsplit(url).path, resp.status_code)
        return resp

    def _error(self, resp):
        title, message = error_from_body(resp.status_code, _json(resp))
        status = resp.status_code
        if status == 404:
            return NotFound(message or "Not found", status=status, title=title)
        if status == 401:
            text = f"Calendly rejected the access token ({message or title or 'Unauthenticated'})."
            self._mark(Status.RECONNECT_NEEDED, text + " Connect Calendly again to resume syncing.")
            return ReconnectNeeded(text, status=status, title=title)
        scope = scope_named_in(title, message) if status == 403 else None
        if scope:
            text = missing_scope_message(scope)
            self._mark(Status.RECONNECT_NEEDED, text)
            return MissingScope(text, scope=scope, status=status, title=title)
        if status == 403 and is_plan_gate(message):
            self._mark(Status.PLAN_NOT_SUPPORTED, f"Calendly: {message}")
            return PlanNotSupported(message, status=status, title=title)
        return CalendlyError(message, status=status, title=title)

    def _on_api_host(self, url):
        base = urlsplit(self.api_base)
        parts = urlsplit(url)
        return (parts.scheme, parts.netloc) == (base.scheme, base.netloc)

    def _path(self, uri):
        """The path part of a Calendly URI; the token only ever goes to the configured host."""
        if uri.startswith(("http://", "https://")):
            parts = urlsplit(uri)
            return parts.path + (f"?{parts.query}" if parts.query else "")
        return uri if uri.startswith("/") else "/" + uri


def _time_param(value):
    return value if isinstance(value, str) else to_iso(value)
