"""The Calendly OAuth client in the Authlib registry (SPEC C1).

Authorization code with PKCE (S256) and ``state``; the portal is a
confidential client, so the token endpoint gets HTTP Basic credentials.
The client is registered lazily from the current app's config, and again
whenever that config differs (tests build several apps in one process).
"""
import threading

import requests
from authlib.integrations.base_client.errors import MismatchingStateError, OAuthError
from flask import current_app, session

from portal.extensions import oauth

NAME = "calendly"
CALLBACK_PATH = "/connections/calendly/callback"
STATES_KEPT = 2  # pending sign-ins a browser may have open at once (two tabs); each is ~600 bytes of the cookie

_lock = threading.Lock()
_registered_with = None


def _settings(config):
    auth_base = config["CALENDLY_AUTH_BASE"].rstrip("/")
    return (
        ("client_id", config.get("CALENDLY_CLIENT_ID")),
        ("client_secret", config.get("CALENDLY_CLIENT_SECRET")),
        ("authorize_url", auth_base + "/oauth/authorize"),
        ("access_token_url", auth_base + "/oauth/token"),
        ("scope", config.get("CALENDLY_SCOPES") or None),
        ("timeout", config.get("CALENDLY_HTTP_TIMEOUT", 10)),
    )


def calendly_oauth():
    """The Authlib client for Calendly, registered on ``portal.extensions.oauth``."""
    global _registered_with
    settings = _settings(current_app.config)
    with _lock:
        if _registered_with != settings:
            values = dict(settings)
            client_kwargs = {
                "code_challenge_method": "S256",
                "token_endpoint_auth_method": "client_secret_basic",
                "default_timeout": values.pop("timeout"),
            }
            if values.get("scope"):
                client_kwargs["scope"] = values["scope"]
            values.pop("scope")
            oauth._clients.pop(NAME, None)  # Authlib caches clients by name
            oauth.register(NAME, client_kwargs=client_kwargs, **values)
            _registered_with = settings
        return oauth.create_client(NAME)


def redirect_uri():
    """Where Calendly sends the browser back: fixed, registered with the OAuth app."""
    return current_app.config["PORTAL_BASE_URL"].rstrip("/") + CALLBACK_PATH


class CodeExchangeFailed(Exception):
    """The authorization code could not be turned into a token; ``reason`` says which way.

    ``state`` (the callback is not the one this browser started), ``refused``
    (Calendly said no; ``error`` is its OAuth error code) or ``unreachable``.
    """

    def __init__(self, reason, error=None):
        super().__init__(reason if error is None else f"{reason}: {error}")
        self.reason = reason
        self.error = error


def exchange_code():
    """The token for the authorization code in the current callback request (C1)."""
    try:
        return calendly_oauth().authorize_access_token()
    except MismatchingStateError:
        raise CodeExchangeFailed("state") from None
    except OAuthError as exc:
        raise CodeExchangeFailed("refused", exc.error) from None
    except (requests.RequestException, ValueError) as exc:
        raise CodeExchangeFailed("unreachable", exc.__class__.__name__) from None


def forget_state(state):
    """Drop the stored state of a flow Calendly ended without a code (denied or failed)."""
    calendly_oauth().framework.clear_state_data(session, state)


def keep_newest_states(kept=STATES_KEPT - 1):
    """Before a new sign-in starts, forget all but the newest ``kept`` pending ones of this browser.

    Authlib keeps each flow's state (with its PKCE verifier) in the session
    until its callback; a Connect abandoned at Calendly would stay there, and
    a few of them push the session cookie past what a browser accepts.
    """
    prefix = f"_state_{NAME}_"
    pending = sorted((k for k in session if k.startswith(prefix)), key=lambda k: _expiry(session[k]))
    for key in pending[:max(0, len(pending) - kept)]:
        session.pop(key, None)


def _expiry(stored):
    """When Authlib's stored state expires (``{"data": …, "exp": seconds}``); the oldest goes first."""
    return stored.get("exp") or 0 if isinstance(stored, dict) else 0
