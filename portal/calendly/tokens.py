"""Token renewal and revocation of one connection (SPEC C6), mixed into ``CalendlyClient``.

Refresh tokens are single-use, so one Redis lock per connection makes sure
two workers never spend the same one; after taking the lock the connection
is read again from the database because another worker may have renewed it
already, and the new pair is stored in one UPDATE. Token requests are paced
to Calendly's per-user limit (``token_budget``). Tokens never reach a log
line or an exception message.
"""
import logging
from datetime import timedelta

import requests
from authlib.integrations.requests_client import OAuth2Session, OAuthError
from redis.exceptions import LockError, RedisError

from portal import connection_status
from portal.calendly import token_budget
from portal.calendly.errors import CalendlyError, NotFound, RateLimited, ReconnectNeeded, TransientError, error_from_body
from portal.calendly.transport import json_body as _json, retry_after as _retry_after
from portal.models import CalendlyConnection, Status
from portal.timeutil import utcnow

log = logging.getLogger("portal.calendly.client")

REFUSED_GRANT_ERRORS = ("invalid_grant", "invalid_token", "unauthorized_client")


def lock_key(connection_id):
    return f"calbridge:lock:refresh:{connection_id}"


def expires_at(token):
    """When an access token from ``/oauth/token`` expires (naive UTC)."""
    seconds = token.get("expires_in")
    if seconds is None:
        return None
    return utcnow() + timedelta(seconds=int(seconds))


class TokenRenewal:
    """The token half of ``CalendlyClient`` (its ``__init__`` sets the settings used here)."""

    def _oauth_session(self):
        """Authlib's OAuth 2 client for the token endpoints, over the same retrying adapter."""
        return self._mount(OAuth2Session(
            self.client_id or "", self.client_secret or "", token_endpoint_auth_method="client_secret_basic",
            revocation_endpoint_auth_method="client_secret_post"))

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
        """Renew the tokens unless another worker already has; True when this call asked Calendly."""
        c = self.connection
        if c.id is None:  # not saved yet: nobody else can hold these tokens
            self._store_tokens(self._token_grant(c.refresh_token))
            return True
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
                    return False  # another worker renewed it meanwhile
            elif fresh.token_expires_at and fresh.token_expires_at > utcnow() + self.refresh_margin:
                return False
            self._spend_token_budget()
            self._store_tokens(self._token_grant(fresh.refresh_token))
            return True
        finally:
            try:
                lock.release()
            except (LockError, RedisError):
                log.warning("refresh lock of connection %s expired before release", c.id)

    def _spend_token_budget(self):
        """Count this refresh against the Calendly user's token requests per minute (``token_budget``)."""
        c = self.connection
        try:
            wait = token_budget.take(self.redis_url, c.calendly_user_uri or f"connection-{c.id}",
                                     self.token_requests_per_minute, self.max_rate_wait, sleep=self.sleep)
        except RedisError as exc:
            raise TransientError("The token request budget is unavailable (Redis)") from exc
        if wait:
            raise RateLimited("Calbridge is pacing its token requests to Calendly (API-FACTS §8)", retry_after=wait)

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
