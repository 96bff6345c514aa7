"""The Calendly OAuth client in the Authlib registry (SPEC C1).

Authorization code with PKCE (S256) and ``state``; the portal is a
confidential client, so the token endpoint gets HTTP Basic credentials.
The client is registered lazily from the current app's config, and again
whenever that config differs (tests build several apps in one process).
"""
import threading

from flask import current_app

from portal.extensions import oauth

NAME = "calendly"
CALLBACK_PATH = "/connections/calendly/callback"

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
