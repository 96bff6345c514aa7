"""Fixtures for the whole suite (flaskr style, with the real services).

- ``redis_server``: a private redis-server for the session.
- ``app`` / ``client`` / ``runner`` / ``auth``: the portal on a database that
  is emptied before every test, with the Redis queues emptied too. Unless the
  test also asks for ``worker``, its jobs go to a Redis database no worker
  reads, so the test can look at what was enqueued.
- ``sandbox``: the Calendly sandbox as a real HTTP server, reset every test.
- ``live_server``: the portal served over HTTP for the browser tests.
- ``worker``: a real RQ worker process for the session.
- ``mail_catcher`` / ``mailbox``: the local SMTP catcher every process sends to, and what arrived.
"""
import json
import os
import threading

import pytest
import requests
from werkzeug.serving import make_server

from portal import create_app
from portal.database import migrate_url
from portal.devstack import PROJECT_ROOT, RedisServer, Service, free_port, stack_env, wait_for_http
from portal.extensions import db
from portal.models import ALL_MODELS, Membership, Subaccount, User

CHROMIUM = "/usr/bin/chromium"
MAIL_RETRY_INTERVALS = [1, 2, 3, 4, 5, 5, 5, 5, 5, 5]


# ---------------------------------------------------------------- the stack
@pytest.fixture(scope="session")
def redis_server():
    server = RedisServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def stack(tmp_path_factory, redis_server):
    """Ports, paths and the environment shared by every process of the test stack."""
    base = tmp_path_factory.mktemp("stack")
    instance = base / "instance"
    instance.mkdir()
    creds = {"client_id": "calbridge-test", "client_secret": "test-client-secret",
             "webhook_signing_key": "test-app-signing-key"}
    portal_port, sandbox_port, mail_port = free_port(), free_port(), free_port()
    database_url = os.environ.get("TEST_DATABASE_URL") or f"sqlite:///{base}/portal.db"
    migrate_url(database_url)  # as `make run` does, before any process of the stack opens it
    env = stack_env(
        portal_port=portal_port,
        sandbox_port=sandbox_port,
        redis_url=redis_server.url,
        database_url=database_url,
        instance_dir=str(instance),
        sandbox_db=str(base / "sandbox.db"),
        creds=creds,
        extra={
            "CALBRIDGE_SECRET_KEY": "test-secret-key",
            "CALBRIDGE_ENCRYPTION_KEY": "q0xGlKZ9ObbnZbQvO8j1rS1xWk9Gq2hYg3yqQ9fWw0A=",
            "SANDBOX_WEBHOOK_RETRY_SCHEDULE": "[0.5, 1, 2]",
            # Workflows: a 2-minute Wait lasts 6 s, step retries start after 0.3 s.
            "CALBRIDGE_WORKFLOW_TIME_SCALE": "0.05",
            "CALBRIDGE_WORKFLOW_RETRY_BACKOFF_SECONDS": "0.3",
            "CALBRIDGE_SMTP_URL": f"smtp://127.0.0.1:{mail_port}",
            # Quick retries: an SMTP outage of 30 s is ridden out in seconds, not minutes.
            "CALBRIDGE_MAIL_RETRY_INTERVALS": json.dumps(MAIL_RETRY_INTERVALS),
        },
    )
    return {
        "env": env,
        "base": base,
        "instance": str(instance),
        "creds": creds,
        "portal_port": portal_port,
        "portal_url": env["CALBRIDGE_PORTAL_BASE_URL"],
        "sandbox_port": sandbox_port,
        "sandbox_url": env["SANDBOX_BASE_URL"],
        "database_url": database_url,
        "redis_url": redis_server.url,
        "mail_port": mail_port,
        "mail_dir": str(base / "mail"),
    }


def portal_config(stack, **overrides):
    env = stack["env"]
    cfg = {
        "TESTING": True,
        "INSTANCE_PATH": stack["instance"],
        "DATABASE_URL": stack["database_url"],
        "REDIS_URL": stack["redis_url"],
        "SECRET_KEY": env["CALBRIDGE_SECRET_KEY"],
        "ENCRYPTION_KEY": env["CALBRIDGE_ENCRYPTION_KEY"],
        "PORTAL_BASE_URL": stack["portal_url"],
        "CALENDLY_API_BASE": stack["sandbox_url"],
        "CALENDLY_AUTH_BASE": stack["sandbox_url"],
        "CALENDLY_CLIENT_ID": stack["creds"]["client_id"],
        "CALENDLY_CLIENT_SECRET": stack["creds"]["client_secret"],
        "CALENDLY_WEBHOOK_SIGNING_KEY": stack["creds"]["webhook_signing_key"],
        "WTF_CSRF_ENABLED": False,
        "WORKFLOW_TIME_SCALE": 0.05,
        "WORKFLOW_RETRY_BACKOFF_SECONDS": 0.3,
        "WEBHOOK_ALLOW_PRIVATE": True,
        "SMTP_URL": env["CALBRIDGE_SMTP_URL"],
        "MAIL_RETRY_INTERVALS": MAIL_RETRY_INTERVALS,
        # The test client speaks as "localhost" while the base URL is 127.0.0.1:<port>; the live portal
        # (the browser, on the base URL) and the tests of portal/canonical_host.py turn it on.
        "CANONICAL_HOST_REDIRECT": False,
    }
    cfg.update(overrides)
    return cfg


def _empty_everything(redis_url):
    from redis import Redis
    from rq import Queue

    from portal.queues import QUEUE_NAMES

    with db.connection_context():
        with db.atomic():
            for model in reversed(ALL_MODELS):
                model.delete().execute()
    conn = Redis.from_url(redis_url)
    for name in QUEUE_NAMES:
        Queue(name, connection=conn).empty()
    # Locks and counters of the previous test; RQ's own worker keys stay.
    for key in conn.scan_iter("calbridge:*"):
        conn.delete(key)


def queue_only_redis_url(stack):
    """Database 1 of the test Redis: no worker listens there, so jobs stay queued for the test to see."""
    return stack["redis_url"].rsplit("/", 1)[0] + "/1"


@pytest.fixture
def app(request, stack):
    overrides = {}
    if "worker" not in request.fixturenames:
        overrides["REDIS_URL"] = queue_only_redis_url(stack)
    marker = request.node.get_closest_marker("csrf")
    if marker is not None:
        overrides["WTF_CSRF_ENABLED"] = True
    config_marker = request.node.get_closest_marker("portal_config")
    if config_marker is not None:
        overrides.update(config_marker.kwargs)
    app = create_app(portal_config(stack, **overrides))
    _empty_everything(stack["redis_url"])
    _flush(queue_only_redis_url(stack))
    yield app


def _flush(redis_url):
    from redis import Redis

    Redis.from_url(redis_url).flushdb()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def app_ctx(app):
    """An app context with an open database connection, for direct model work."""
    with app.app_context():
        db.connect(reuse_if_open=True)
        yield app
        if not db.is_closed():
            db.close()


class People:
    """Creates subaccounts and users the way the admin CLI does."""

    def subaccount(self, name="Acme Dental"):
        with db.connection_context():
            return Subaccount.get_or_create(name=name)[0]

    def user(self, email, subaccount="Acme Dental", role="user", password="password123", name="", support=False):
        with db.connection_context():
            sub = self.subaccount(subaccount) if subaccount else None
            user = User.get_or_none(User.email == email)
            if user is None:
                user = User(email=email, name=name or email.split("@")[0].title(), is_support=support)
                user.set_password(password)
                user.save()
            if sub is not None:
                Membership.get_or_create(user=user, subaccount=sub, defaults={"role": role})
            return user


@pytest.fixture
def people(app):
    return People()


class AuthActions:
    def __init__(self, client):
        self._client = client

    def login(self, email="admin@acme.test", password="password123"):
        return self._client.post("/signin", data={"email": email, "password": password})

    def logout(self):
        return self._client.post("/signout")


@pytest.fixture
def auth(client):
    return AuthActions(client)


# ---------------------------------------------------------------- sandbox
@pytest.fixture(scope="session")
def sandbox_server(stack):
    log_dir = str(stack["base"])
    service = Service(
        "sandbox",
        [os.path.join(os.path.dirname(os.sys.executable), "python"), "-m", "sandbox",
         "--port", str(stack["sandbox_port"])],
        stack["env"],
        log_dir,
        health_url=stack["sandbox_url"] + "/_sandbox/health",
    ).start()
    yield service
    service.stop()


class SandboxAdmin:
    """The sandbox's ``/_sandbox/`` admin API, as tests use it."""

    def __init__(self, url):
        self.url = url
        self.http = requests.Session()

    def _call(self, method, path, expect=(200, 201, 204), **kwargs):
        resp = self.http.request(method, self.url + "/_sandbox" + path, timeout=10, **kwargs)
        assert resp.status_code in expect, f"{method} {path}: {resp.status_code} {resp.text[:500]}"
        return resp.json() if resp.content else None

    def reset(self):
        return self._call("POST", "/reset")

    def create_user(self, email, name=None, password="calendly-pass", plan="professional", stage="paid",
                    timezone="UTC", **extra):
        body = {"name": name or email.split("@")[0].title(), "email": email, "password": password,
                "plan": plan, "stage": stage, "timezone": timezone, **extra}
        return self._call("POST", "/users", json=body)

    def update_user(self, user_uri, **fields):
        return self._call("PATCH", "/users/" + user_uri.rsplit("/", 1)[1], json=fields)

    def create_event_type(self, name, hosts, pooling_type=None, duration=30):
        return self._call("POST", "/event_types",
                          json={"name": name, "hosts": hosts, "pooling_type": pooling_type, "duration": duration})

    def book(self, event_type_uri, start_time, name, email, guests=(), created_at=None, qa=()):
        body = {"event_type": event_type_uri, "start_time": start_time, "invitee": {"name": name, "email": email},
                "guests": list(guests), "questions_and_answers": list(qa)}
        if created_at:
            body["created_at"] = created_at
        return self._call("POST", "/bookings", json=body)

    def cancel(self, invitee_uri, reason="Conflict"):
        return self._call("POST", f"/invitees/{invitee_uri.rsplit('/', 1)[1]}/cancel", json={"reason": reason})

    def reschedule(self, invitee_uri, start_time):
        return self._call("POST", f"/invitees/{invitee_uri.rsplit('/', 1)[1]}/reschedule",
                          json={"start_time": start_time})

    def faults(self, **faults):
        return self._call("POST", "/faults", json=faults)

    def clear_faults(self):
        return self._call("DELETE", "/faults")

    def subscriptions(self):
        return self._call("GET", "/webhook_subscriptions")["collection"]

    def deliveries(self):
        return self._call("GET", "/webhook_deliveries")["collection"]

    def tokens(self):
        return self._call("GET", "/tokens")["collection"]

    def expire_tokens(self, user):
        """Make the user's access tokens expired, as two hours passing would."""
        return self._call("POST", "/tokens/expire", json={"user": user})

    def revoke_all_tokens(self, user):
        """The user removes the app's access in Calendly."""
        return self._call("POST", "/tokens/revoke_all", json={"user": user})


@pytest.fixture
def sandbox(sandbox_server, stack):
    admin = SandboxAdmin(stack["sandbox_url"])
    admin.reset()
    yield admin
    admin.clear_faults()


# ---------------------------------------------------------------- live portal
@pytest.fixture(scope="session")
def live_app(stack):
    return create_app(portal_config(stack, WTF_CSRF_ENABLED=True, TESTING=False, CANONICAL_HOST_REDIRECT=True))


@pytest.fixture(scope="session")
def _live_http(live_app, stack):
    server = make_server("127.0.0.1", stack["portal_port"], live_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    wait_for_http(stack["portal_url"] + "/signin")
    yield server
    server.shutdown()


@pytest.fixture
def live_server(app, _live_http, stack):
    """The portal over HTTP; depends on ``app`` so the database starts empty."""
    return stack["portal_url"]


@pytest.fixture(scope="session")
def worker(stack, redis_server):
    """A real RQ worker process (and its scheduler) for the whole session."""
    service = Service(
        "worker",
        [os.path.join(os.path.dirname(os.sys.executable), "python"), "-m", "jobs.worker", "--name", "test-worker"],
        stack["env"],
        str(stack["base"]),
    ).start(wait=False)
    yield service
    service.stop()


# ---------------------------------------------------------------- mail
class MailCatcher:
    """``python -m mailcatcher`` on the stack's SMTP port; tests may stop and start it again."""

    def __init__(self, stack):
        self.port, self.directory = stack["mail_port"], stack["mail_dir"]
        self.service = Service(
            "mailcatcher",
            [os.path.join(os.path.dirname(os.sys.executable), "python"), "-m", "mailcatcher",
             "--port", str(self.port), "--dir", self.directory, "--refuse-recipients", "@refused.test"],
            stack["env"], str(stack["base"]),
        )

    def start(self):
        from mailcatcher.mailbox import wait_until_listening

        self.service.start(wait=False)
        wait_until_listening("127.0.0.1", self.port)
        return self

    def stop(self):
        self.service.stop()


@pytest.fixture(scope="session")
def mail_catcher(stack):
    catcher = MailCatcher(stack).start()
    yield catcher
    catcher.stop()


@pytest.fixture
def mailbox(mail_catcher):
    """What reached the catcher during this test (emptied first); the catcher is running."""
    from mailcatcher.mailbox import Mailbox

    if mail_catcher.service.process.poll() is not None:
        mail_catcher.start()
    box = Mailbox(mail_catcher.directory)
    box.clear()
    return box


# ---------------------------------------------------------------- browser
@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"],
    }


def pytest_configure(config):
    config.addinivalue_line("markers", "csrf: run the portal with CSRF protection on")
    config.addinivalue_line("markers", "portal_config(**values): override portal settings for a test")
    config.addinivalue_line("markers", "schema: migration tests (make test-postgres runs them on PostgreSQL too)")


@pytest.fixture
def page(page):
    """pytest-playwright's page, failing the test if the browser refused anything by the Content-Security-Policy."""
    refused = []
    page.on("console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None)
    yield page
    assert not refused, f"Content-Security-Policy violations: {refused}"
