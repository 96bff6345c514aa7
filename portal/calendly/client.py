"""Every HTTP call the portal makes to Calendly (or the sandbox: only base URLs differ, SPEC R2).

``CalendlyClient(connection)`` speaks for one connection. It

- renews the access token before it expires (SPEC C6). Refresh tokens are
  single-use, so one redis lock per connection makes sure two workers never
  spend the same one; after taking the lock the connection is read again
  from the database because another worker may have renewed it already, and
  the new pair is stored in one UPDATE;
- on a 401 renews once and retries once;
- waits out a short 429 (``X-RateLimit-Reset`` / ``Retry-After``), otherwise
  raises ``RateLimited``;
- retries 5xx and network errors with exponential backoff (urllib3's
  ``Retry`` on the session's adapter), then raises ``TransientError``;
- sets the connection's status when Calendly says the owner must act:
  **Reconnect needed** when the tokens are refused, **Plan not supported**
  on the plan gate (SPEC C5, S1).

Tokens never reach a log line or an exception message.
"""
import logging
import time
from datetime import timedelta
from urllib.parse import urlsplit

import requests
from authlib.integrations.requests_client import OAuth2Session, OAuthError
from flask import current_app
from redis.exceptions import LockError, RedisError

from portal.calendly.errors import (
    CalendlyError,
    NotFound,
    PlanNotSupported,
    RateLimited,
    ReconnectNeeded,
    TransientError,
    error_from_body,
)
from portal import connection_status
from portal.calendly.transport import retrying
from portal.models import CalendlyConnection, Status
from portal.timeutil import to_iso, utcnow

log = logging.getLogger(__name__)

PAGE_SIZE = 100
WEBHOOK_EVENTS = ("invitee.created", "invitee.canceled")
REFUSED_GRANT_ERRORS = ("invalid_grant", "invalid_token", "unauthorized_client")


def lock_key(connection_id):
    return f"calbridge:lock:refresh:{connection_id}"


def is_plan_gate(message):
    """Calendly's plan gate says "Please upgrade ..." (SPEC C5; API-FACTS §4)."""
    return "upgrade" in (message or "").lower()


class CalendlyClient:
    """The Calendly API v2 as one connection sees it."""

    def __init__(self, connection, *, sleep=time.sleep):
        cfg = current_app.config
        self.connection = connection
        self.api_base = cfg["CALENDLY_API_BASE"].rstrip("/")
        self.auth_base = cfg["CALENDLY_AUTH_BASE"].rstrip("/")
        self.timeout = cfg.get("CALENDLY_HTTP_TIMEOUT", 10)
        self.refresh_margin = timedelta(seconds=cfg.get("TOKEN_REFRESH_MARGIN_SECONDS", 300))
        self.max_attempts = cfg.get("CALENDLY_MAX_ATTEMPTS", 3)
        self.backoff = cfg.get("CALENDLY_RETRY_BACKOFF_SECONDS", 0.5)
        self.max_rate_wait = cfg.get("CALENDLY_RATE_LIMIT_MAX_WAIT_SECONDS", 5)
        self.client_id = cfg.get("CALENDLY_CLIENT_ID")
        self.client_secret = cfg.get("CALENDLY_CLIENT_SECRET")
        self.sleep = sleep
        self.http = self._mount(requests.Session())
        self.http.headers["User-Agent"] = "Calbridge/1.0"
        self.http.headers["Accept"] = "application/json"

    def _mount(self, session):
        return retrying(session, attempts=self.max_attempts, backoff=self.backoff,
                        sleep=lambda seconds: self.sleep(seconds))

    def _oauth_session(self):
        """Authlib's OAuth 2 client for the token endpoints, over the same retrying adapter."""
        return self._mount(OAuth2Session(
            self.client_id or "", self.client_secret or "", token_endpoint_auth_method="client_secret_basic",
            revocation_endpoint_auth_method="client_secret_post"))

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

    # ------------------------------------------------------------ webhooks (C7)
    def create_webhook_subscription(self, url, signing_key):
        """Subscribe ``url`` to this user's invitee.created/canceled, signed with ``signing_key``.

        A 409 (the URL is already subscribed: our own earlier attempt whose
        answer was lost) returns that existing subscription instead.
        """
        c = self.connection
        body = {
            "url": url,
            "events": list(WEBHOOK_EVENTS),
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

    # ------------------------------------------------------------ tokens (C6)
    def revoke(self):
        """Revoke the connection's tokens at Calendly. Already-dead tokens are fine."""
        c = self.connection
        with self._oauth_session() as oauth:
            for token in (c.refresh_token, c.access_token):
                if not token:
                    continue
                try:
                    resp = oauth.revoke_token(self.auth_base + "/oauth/revoke", token=token, timeout=self.timeout)
                except requests.RequestException as exc:
                    raise TransientError(f"Calendly could not be reached ({exc.__class__.__name__})") from None
                if resp.status_code >= 500:
                    raise TransientError("Calendly could not revoke the token", status=resp.status_code)

    def ensure_fresh_token(self):
        """Renew the access token now if it expires within the margin."""
        c = self.connection
        if c.refresh_token and c.token_expires_at and c.token_expires_at <= utcnow() + self.refresh_margin:
            self._refresh(force=False)

    def _refresh(self, *, force, rejected_access_token=None):
        c = self.connection
        if c.id is None:  # not saved yet: nobody else can hold these tokens
            self._store_tokens(self._token_grant(c.refresh_token))
            return
        from portal.queues import get_redis

        lock = get_redis().lock(lock_key(c.id), timeout=self.timeout * 3 + 10,
                                blocking_timeout=self.timeout + 5)
        try:
            acquired = lock.acquire()
        except RedisError as exc:
            raise TransientError("The token lock is unavailable (Redis)") from exc
        if not acquired:
            raise TransientError("Another worker is renewing this Calendly token; try again shortly.")
        try:
            fresh = CalendlyConnection.get_or_none(CalendlyConnection.id == c.id)
            if fresh is None:
                raise NotFound("The connection no longer exists")
            self._adopt(fresh)
            if fresh.status == Status.RECONNECT_NEEDED:
                raise ReconnectNeeded(fresh.last_error or "Calendly refused this connection's tokens")
            if force:
                if fresh.access_token != rejected_access_token:
                    return  # another worker renewed it meanwhile
            elif fresh.token_expires_at and fresh.token_expires_at > utcnow() + self.refresh_margin:
                return
            self._store_tokens(self._token_grant(fresh.refresh_token))
        finally:
            try:
                lock.release()
            except (LockError, RedisError):
                log.warning("refresh lock of connection %s expired before release", c.id)

    def _adopt(self, fresh):
        c = self.connection
        c.access_token, c.refresh_token = fresh.access_token, fresh.refresh_token
        c.token_expires_at, c.status, c.last_error = fresh.token_expires_at, fresh.status, fresh.last_error

    def _token_grant(self, refresh_token):
        if not refresh_token:
            self._mark(Status.RECONNECT_NEEDED, "No refresh token is stored for this connection.")
            raise ReconnectNeeded("No refresh token")
        answers = []
        with self._oauth_session() as oauth:
            oauth.register_compliance_hook("refresh_token_response", lambda resp: answers.append(resp) or resp)
            try:
                return dict(oauth.refresh_token(self.auth_base + "/oauth/token", refresh_token=refresh_token,
                                                timeout=self.timeout))
            except OAuthError as exc:
                error, description = exc.error or "", exc.description or ""
            except requests.HTTPError:  # a 5xx, or a body that is not JSON
                error, description = "", ""
            except (requests.RequestException, ValueError) as exc:
                raise TransientError(f"Calendly could not be reached ({exc.__class__.__name__})") from None
        resp = answers[-1]
        if not error:
            error, description = error_from_body(resp.status_code, _json(resp))
        if resp.status_code == 429:
            raise RateLimited("Calendly's token endpoint is rate limiting", retry_after=_retry_after(resp))
        if resp.status_code >= 500:
            raise TransientError("Calendly could not renew the token", status=resp.status_code, title=error)
        if resp.status_code in (400, 401) and (error in REFUSED_GRANT_ERRORS or not error):
            text = (f"Calendly refused to renew access ({error or resp.status_code}: {description}). "
                    "Connect Calendly again to resume syncing.")
            self._mark(Status.RECONNECT_NEEDED, text)
            raise ReconnectNeeded(text, status=resp.status_code, title=error)
        text = f"Calendly refused the token request ({error or resp.status_code}: {description})"
        self._mark(Status.ERROR, text)
        raise CalendlyError(text, status=resp.status_code, title=error)

    def _store_tokens(self, token):
        c = self.connection
        c.access_token = token["access_token"]
        c.refresh_token = token.get("refresh_token") or c.refresh_token
        c.token_expires_at = expires_at(token)
        if c.id is not None:
            # One statement: the new pair replaces the old one atomically.
            CalendlyConnection.update(
                access_token=c.access_token, refresh_token=c.refresh_token, token_expires_at=c.token_expires_at
            ).where(CalendlyConnection.id == c.id).execute()
        log.info("renewed the Calendly token of connection %s", c.id)

    def _mark(self, status, text):
        """Record what the owner must do (S1); a disconnected row stays disconnected."""
        c = self.connection
        c.status, c.last_error = status, text
        if c.id is not None:
            CalendlyConnection.update(status=status, last_error=text).where(
                (CalendlyConnection.id == c.id) & (CalendlyConnection.status != Status.DISCONNECTED)
            ).execute()
            connection_status.changed(c.id)

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
        refreshed = False
        rate_waits = 0
        while True:
            token = self.connection.access_token
            resp = self._send(method, url, params=params, json=json,
                                           headers={"Authorization": f"Bearer {token}"})
            if resp.status_code == 401 and not refreshed and self.connection.refresh_token:
                refreshed = True
                self._refresh(force=True, rejected_access_token=token)
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


def expires_at(token):
    """When an access token from ``/oauth/token`` expires (naive UTC)."""
    seconds = token.get("expires_in")
    if seconds is None:
        return None
    return utcnow() + timedelta(seconds=int(seconds))


def _time_param(value):
    return value if isinstance(value, str) else to_iso(value)


def _json(resp):
    try:
        body = resp.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _retry_after(resp):
    for header in ("Retry-After", "X-RateLimit-Reset"):
        value = resp.headers.get(header)
        if value:
            try:
                return max(0.0, float(value))
            except ValueError:
                continue
    return 60.0
