"""The Calendly sandbox: a local emulator of Calendly API v2 and its OAuth server.

``create_app(config=None)`` builds it. Settings come from the environment
(same names) and are overridden by ``config``:

SANDBOX_DATABASE                SQLite file (default ``instance/sandbox.db`` in the repo)
SANDBOX_BASE_URL                public base of every URI (default: the request's host, or http://localhost:5001)
SANDBOX_OAUTH_CLIENTS           JSON list of {name, client_id, client_secret, redirect_uris, webhook_signing_key}
SANDBOX_ACCESS_TOKEN_TTL        seconds (7200)
SANDBOX_CODE_TTL                seconds an authorization code lives (600)
SANDBOX_WEBHOOK_SENDER          "thread" (background sender) or "off" (call webhooks.send_due yourself)
SANDBOX_WEBHOOK_RETRY_SCHEDULE  seconds between retries (JSON list; default exponential, 24 h in total)
SANDBOX_WEBHOOK_RETRY_BUDGET    seconds after the first attempt before giving up (86400)
SANDBOX_WEBHOOK_CONNECT_TIMEOUT seconds a delivery may take to connect (10, as Calendly)
SANDBOX_WEBHOOK_READ_TIMEOUT    seconds a delivery may wait for the answer (15, as Calendly)
SANDBOX_TOKEN_RATE_LIMIT        token requests per user per minute (8, as Calendly; "off" = counted, not enforced)
SANDBOX_ENFORCE_SCOPES          403 when a scoped token lacks the endpoint's scope (on; "default" = full access)
SANDBOX_DEMO                    seed the demo accounts at start (idempotent)
SANDBOX_SECRET_KEY              session/token signing key (default: random per process)
"""
import atexit
import json
import os
import secrets

from flask import Flask, jsonify, render_template, request

from . import accounts, store, webhooks
from .faults import Faults, RateLimiter, RollingLimiter

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

DEFAULTS = {
    "SANDBOX_DATABASE": os.path.join(REPO_ROOT, "instance", "sandbox.db"),
    "SANDBOX_BASE_URL": None,
    "SANDBOX_OAUTH_CLIENTS": [],
    "SANDBOX_ACCESS_TOKEN_TTL": 7200,
    "SANDBOX_CODE_TTL": 600,
    "SANDBOX_WEBHOOK_SENDER": "thread",
    "SANDBOX_WEBHOOK_RETRY_SCHEDULE": None,
    "SANDBOX_WEBHOOK_RETRY_BUDGET": 86400,
    "SANDBOX_WEBHOOK_CONNECT_TIMEOUT": 10,
    "SANDBOX_WEBHOOK_READ_TIMEOUT": 15,
    "SANDBOX_TOKEN_RATE_LIMIT": 8,
    "SANDBOX_DEMO": False,
    "SANDBOX_ENFORCE_SCOPES": True,
    "SANDBOX_SECRET_KEY": None,
}


class SandboxState:
    """What the running sandbox keeps in memory: faults, rate counters, the sender."""

    def __init__(self, app):
        self.faults = Faults()
        self.limiter = RateLimiter()
        self.token_limiter = RollingLimiter()
        self.executor = webhooks.make_executor()
        self.sender = webhooks.Sender(app) if app.config["SANDBOX_WEBHOOK_SENDER"] == "thread" else None

    def wake_sender(self):
        if self.sender is not None:
            self.sender.wake()

    def stop(self):
        """Stop the sender thread and its workers (tests call this between apps)."""
        if self.sender is not None:
            self.sender.stop()
        self.executor.shutdown(wait=True, cancel_futures=True)


def _truthy(value):
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def _number_list(value):
    if value is None or value == "":
        return webhooks.default_retry_schedule()
    if isinstance(value, str):
        value = json.loads(value) if value.strip().startswith("[") else value.split(",")
    return [float(v) for v in value]


def _normalize(cfg):
    for key in ("SANDBOX_ACCESS_TOKEN_TTL", "SANDBOX_WEBHOOK_RETRY_BUDGET"):
        cfg[key] = int(float(cfg[key]))
    cfg["SANDBOX_CODE_TTL"] = float(cfg["SANDBOX_CODE_TTL"])
    for key in ("SANDBOX_WEBHOOK_CONNECT_TIMEOUT", "SANDBOX_WEBHOOK_READ_TIMEOUT"):
        cfg[key] = float(cfg[key])
    limit = cfg["SANDBOX_TOKEN_RATE_LIMIT"]
    if limit in (None, "") or str(limit).strip().lower() == "off":
        cfg["SANDBOX_TOKEN_RATE_LIMIT"] = None
    else:
        cfg["SANDBOX_TOKEN_RATE_LIMIT"] = int(limit)
    cfg["SANDBOX_WEBHOOK_RETRY_SCHEDULE"] = _number_list(cfg["SANDBOX_WEBHOOK_RETRY_SCHEDULE"])
    cfg["SANDBOX_OAUTH_CLIENTS"] = accounts.parse_clients(cfg["SANDBOX_OAUTH_CLIENTS"])
    cfg["SANDBOX_DEMO"] = _truthy(cfg["SANDBOX_DEMO"])
    cfg["SANDBOX_ENFORCE_SCOPES"] = _truthy(cfg["SANDBOX_ENFORCE_SCOPES"])
    cfg["SANDBOX_WEBHOOK_SENDER"] = str(cfg["SANDBOX_WEBHOOK_SENDER"] or "thread").lower()
    if cfg["SANDBOX_WEBHOOK_SENDER"] not in ("thread", "off"):
        raise ValueError("SANDBOX_WEBHOOK_SENDER must be 'thread' or 'off'")
    if cfg["SANDBOX_BASE_URL"]:
        cfg["SANDBOX_BASE_URL"] = cfg["SANDBOX_BASE_URL"].rstrip("/")


def create_app(config=None):
    app = Flask(__name__, static_folder="static", static_url_path="/_sandbox/static")
    app.config.update(DEFAULTS)
    app.config.update({k: os.environ[k] for k in DEFAULTS if os.environ.get(k) not in (None, "")})
    app.config.update(config or {})
    _normalize(app.config)
    app.secret_key = app.config["SANDBOX_SECRET_KEY"] or secrets.token_hex(32)
    # Its own cookie: the portal may run on the same host (another port shares cookies).
    app.config["SESSION_COOKIE_NAME"] = "calendly_sandbox_session"
    app.json.sort_keys = False

    store.init_db(app.config["SANDBOX_DATABASE"], pooled=True)
    with app.app_context(), store.db.connection_context():
        # Jobs claimed by a sender that died with the previous process go back in the queue.
        store.WebhookJob.update(status="pending").where(store.WebhookJob.status == "sending").execute()
        accounts.register_config_clients(app.config["SANDBOX_OAUTH_CLIENTS"])
        if app.config["SANDBOX_DEMO"]:
            from .demo import seed

            seed()

    from . import admin, api, booking, host_app, no_shows, oauth

    app.register_blueprint(oauth.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(booking.bp)
    app.register_blueprint(host_app.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(no_shows.bp)
    app.register_blueprint(webhooks.bp)

    @app.before_request
    def _open_db():
        store.db.connect(reuse_if_open=True)

    @app.teardown_request
    def _close_db(exc):
        if not store.db.is_closed():
            store.db.close()

    @app.errorhandler(404)
    def _not_found(exc):
        return _error_page(404, "Page not found", "The page you are looking for does not exist.")

    @app.errorhandler(405)
    def _not_allowed(exc):
        return _error_page(405, "Method Not Allowed", "The method is not allowed for the requested URL.")

    @app.errorhandler(400)
    def _bad_request(exc):
        return _error_page(400, "Bad request", getattr(exc, "description", "The request is invalid."))

    state = SandboxState(app)
    app.extensions["sandbox"] = state
    if state.sender is not None:
        state.sender.start()
        atexit.register(state.stop)
    return app


def _wants_html():
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return best == "text/html" and request.accept_mimetypes[best] > request.accept_mimetypes["application/json"]


def _error_page(status, title, message):
    if _wants_html():
        return render_template("error.html", title=title, message=message), status
    if status == 404:
        body = {"title": "Resource Not Found", "message": "The server could not find the requested resource."}
    else:
        body = {"title": title, "message": message}
    return jsonify(body), status
