"""Configuration: defaults, then the environment, then the mapping tests pass.

Every setting can be given as ``CALBRIDGE_<NAME>`` in the environment; the
plain names ``DATABASE_URL`` and ``REDIS_URL`` are read too, as the
ecosystem expects. Secrets have no default: the encryption key and the
session secret are generated into the instance folder on first run.
"""
import os
import secrets

from cryptography.fernet import Fernet

DEFAULTS = {
    "PORTAL_BASE_URL": "http://localhost:5000",
    # Calendly (or the sandbox): only base URLs differ between the two (SPEC R2).
    "CALENDLY_API_BASE": "http://localhost:5001",
    "CALENDLY_AUTH_BASE": "http://localhost:5001",
    # The Calendly web app a host signs in to ("Open in Calendly"); None: https://calendly.com for
    # the real auth host, else the auth base (the sandbox serves both).
    "CALENDLY_APP_BASE": None,
    "CALENDLY_CLIENT_ID": None,
    "CALENDLY_CLIENT_SECRET": None,
    # Calendly signs deliveries with one key per OAuth app.
    "CALENDLY_WEBHOOK_SIGNING_KEY": None,
    "CALENDLY_SCOPES": "users:read organizations:read event_types:read "
    "scheduled_events:read webhooks:read webhooks:write",
    "CALENDLY_HTTP_TIMEOUT": 10,
    "CALENDLY_MAX_ATTEMPTS": 3,  # per call, on 5xx and network errors
    "CALENDLY_RETRY_BACKOFF_SECONDS": 0.5,
    "CALENDLY_RATE_LIMIT_MAX_WAIT_SECONDS": 5,  # longer 429 waits go back to RQ
    "CALENDLY_PLAN_CHECK_SECONDS": 60,  # C5: a delivery re-reads its connection's plan at most this often
    # Calendly allows 8 token requests per user per minute (API-FACTS §8); one is left for a reconnect.
    "CALENDLY_TOKEN_REQUESTS_PER_MINUTE": 7,
    "BACKFILL_DAYS": 180,  # SPEC W2; 0 = only events created after setup
    "RECONCILE_INTERVAL_SECONDS": 300,  # SPEC E5
    "RECONCILE_LOOKBACK_DAYS": 7,
    "EVENT_TYPES_REFRESH_SECONDS": 3600,  # reconciliation re-reads event types at most this often while their webhooks are subscribed (0: every run)
    "WEBHOOK_TOLERANCE_SECONDS": 180,
    "WEBHOOK_MAX_BODY_BYTES": 256 * 1024,
    "INBOX_SWEEP_AFTER_SECONDS": 30,
    # Refused webhook requests recorded per minute, per webhook address and overall (issue 12).
    "WEBHOOK_REFUSALS_PER_TOKEN_PER_MINUTE": 30,
    "WEBHOOK_REFUSALS_PER_MINUTE": 300,
    "INBOX_RETENTION_DAYS": 30,  # applied and refused inbox rows older than this are pruned
    "INBOX_PRUNE_BATCH": 1000,
    "TOKEN_REFRESH_MARGIN_SECONDS": 300,
    "DELETE_BATCH_SIZE": 500,
    "SIGNIN_MAX_FAILURES": 5,  # per address typed
    "SIGNIN_MAX_FAILURES_PER_CLIENT": 30,  # per client IP address: one password tried on many accounts
    "SIGNIN_LOCKOUT_SECONDS": 300,
    # Email (issue 13): every message goes through this SMTP server; `make run` points it at the catcher.
    "SMTP_URL": "smtp://localhost:1025",  # smtp://user:pass@host:587?starttls=1, or smtps://
    "MAIL_FROM": "Calbridge <noreply@calbridge.test>",
    "SMTP_TIMEOUT_SECONDS": 10,
    "MAIL_MAX_BYTES": 2 * 1024 * 1024,  # a bigger message is refused when queued
    "MAIL_RETRY_INTERVALS": [10, 30, 60, 120, 300, 600],  # RQ Retry on transient SMTP failures
    "MAIL_MAX_ATTEMPTS": 50,  # then the message is Failed; the outbox sweep re-queues until then
    "MAIL_SWEEP_AFTER_SECONDS": 60,
    "PASSWORD_RESET_MAX_AGE_SECONDS": 3600,
    "INVITATION_MAX_AGE_SECONDS": 7 * 24 * 3600,
    "EMAIL_CHANGE_MAX_AGE_SECONDS": 24 * 3600,
    "RQ_ASYNC": True,
    # Workflows (issue 14): every Wait lasts its time multiplied by the scale (tests use e.g. 0.01).
    "WORKFLOW_TIME_SCALE": 1.0,
    "WORKFLOW_STEP_MAX_ATTEMPTS": 4,
    "WORKFLOW_RETRY_BACKOFF_SECONDS": 2,
    "WORKFLOW_WEBHOOK_TIMEOUT": 10,
    "WEBHOOK_ALLOW_PRIVATE": False,  # Send webhook steps may post to loopback/private addresses
    "WTF_CSRF_TIME_LIMIT": None,
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    # Its own cookie name: the sandbox may share the host (different port).
    "SESSION_COOKIE_NAME": "calbridge_session",
    # Production settings (portal/security.py): X-Forwarded-* hops to trust, and the Host names
    # accepted (None: derived from PORTAL_BASE_URL).
    "PROXY_COUNT": 0,
    "TRUSTED_HOSTS": None,
    # A page asked for on another name of this portal (127.0.0.1 for localhost) is redirected to
    # PORTAL_BASE_URL's, where the session cookie and the OAuth callback are (portal/canonical_host.py).
    "CANONICAL_HOST_REDIRECT": True,
    # Live pages (issue 19): where browsers open their event stream (the live process, live_wsgi.py;
    # "" = pages poll portal/live.py), and whether this process serves streams (only the gevent one does).
    "LIVE_STREAM_URL": "",
    "LIVE_STREAM_SERVER": False,
}

PLAIN_ENV_NAMES = ("DATABASE_URL", "REDIS_URL")


def load(app, test_config=None):
    """Fill ``app.config`` in order: defaults, environment, test mapping."""
    app.config.from_mapping(DEFAULTS)
    app.config["DATABASE_URL"] = "sqlite:///" + os.path.join(app.instance_path, "calbridge.db")
    app.config["REDIS_URL"] = "redis://localhost:6390/0"
    for name in PLAIN_ENV_NAMES:
        if os.environ.get(name):
            app.config[name] = os.environ[name]
    app.config.from_prefixed_env("CALBRIDGE")
    if test_config:
        app.config.from_mapping(test_config)
    secure_instance_folder(app)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _instance_secret(app, "secret_key", lambda: secrets.token_hex(32))
    if not app.config.get("ENCRYPTION_KEY"):
        app.config["ENCRYPTION_KEY"] = _instance_secret(
            app, "encryption.key", lambda: Fernet.generate_key().decode()
        )


def secure_instance_folder(app):
    """The instance folder (database, keys, logs) is the owner's alone: folders 0700, files 0600.

    The SQLite database is created here, 0600, before SQLite opens it (its -wal
    and -shm files take the same mode); files made earlier are tightened.
    """
    os.makedirs(app.instance_path, mode=0o700, exist_ok=True)
    url = app.config["DATABASE_URL"]
    if url.startswith("sqlite:///") and url.partition("?")[0] != "sqlite:///:memory:":
        path = url[len("sqlite:///"):].partition("?")[0]
        if path and not os.path.exists(path) and os.path.isdir(os.path.dirname(path) or "."):
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    for folder, _, files in os.walk(app.instance_path):
        _chmod(folder, 0o700)
        for name in files:
            _chmod(os.path.join(folder, name), 0o600)


def _chmod(path, mode):
    try:
        if os.stat(path).st_mode & 0o777 != mode:
            os.chmod(path, mode)
    except OSError:  # not ours, or gone meanwhile: leave it
        pass


def _instance_secret(app, filename, make):
    """Read a secret from the instance folder, creating it (mode 600) the first time."""
    path = os.path.join(app.instance_path, filename)
    if not os.path.exists(path):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(make())
    with open(path) as f:
        return f.read().strip()
