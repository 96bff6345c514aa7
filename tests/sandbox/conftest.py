"""Fixtures for the Calendly sandbox tests (flaskr style: a fresh database per test).

- ``sb_app`` / ``sb_client``: the sandbox in-process on a temporary SQLite file,
  webhook sender off (tests call ``webhooks.send_due``) unless marked
  ``@pytest.mark.sandbox_config(SANDBOX_WEBHOOK_SENDER="thread", ...)``.
- ``sb_live``: the same app served over real HTTP on a free port.
- ``admin`` / ``api``: the ``/_sandbox`` API and the Calendly API (every API
  response is validated against Calendly's OpenAPI by ``contract``).
- ``receiver``: a tiny webhook receiver (http.server in a thread).
"""
import sys
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

# This directory is named like the package under test, and the top-level conftest puts tests/ on sys.path:
# without the repo root first, ``import sandbox`` finds tests/sandbox as a namespace package.
_REPO_ROOT = str(Path(__file__).resolve().parents[2])
if sys.path[:1] != [_REPO_ROOT]:
    sys.path.insert(0, _REPO_ROOT)
if getattr(sys.modules.get("sandbox"), "__file__", "") is None:
    del sys.modules["sandbox"]

from calendly_contract import Contract  # noqa: E402
from sandbox_helpers import BASE, PORTAL_CLIENT, Admin, Api, Receiver  # noqa: E402

from sandbox import create_app, oauth, store, webhooks  # noqa: E402


def pytest_configure(config):
    config.addinivalue_line("markers", "sandbox_config(**values): override sandbox settings for a test")


# ---------------------------------------------------------------- browser (moved to the top level later)
@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {
        **browser_type_launch_args,
        "executable_path": "/usr/bin/chromium",
        "args": ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"],
    }


# ---------------------------------------------------------------- app
def _config(tmp_path, request, **extra):
    cfg = {
        "TESTING": True,
        "SANDBOX_DATABASE": str(tmp_path / "sandbox.db"),
        "SANDBOX_BASE_URL": BASE,
        "SANDBOX_WEBHOOK_SENDER": "off",
        "SANDBOX_WEBHOOK_RETRY_SCHEDULE": [0.2, 0.5, 1],
        "SANDBOX_OAUTH_CLIENTS": [PORTAL_CLIENT],
        "SANDBOX_SECRET_KEY": "test-only-secret",
        "SANDBOX_DEMO": False,
    }
    cfg.update(extra)
    marker = request.node.get_closest_marker("sandbox_config")
    if marker is not None:
        cfg.update(marker.kwargs)
    return cfg


@pytest.fixture
def sb_app(tmp_path, request):
    app = create_app(_config(tmp_path, request))
    yield app
    app.extensions["sandbox"].stop()


@pytest.fixture
def sb_client(sb_app):
    return sb_app.test_client()


class LiveSandbox:
    def __init__(self, app, server):
        self.app, self.server = app, server
        self.url = f"http://127.0.0.1:{server.server_port}"


@pytest.fixture
def sb_live(tmp_path, request):
    """The sandbox over HTTP; its URIs use the real address."""
    app = create_app(_config(tmp_path, request, SANDBOX_BASE_URL=None))
    server = make_server("127.0.0.1", 0, app, threaded=True)
    app.config["SANDBOX_BASE_URL"] = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield LiveSandbox(app, server)
    server.shutdown()
    app.extensions["sandbox"].stop()


# ---------------------------------------------------------------- contract
_contracts = {}


@pytest.fixture(scope="session")
def contract_for():
    def get(base_url):
        if base_url not in _contracts:
            _contracts[base_url] = Contract(base_url)
        return _contracts[base_url]
    return get


@pytest.fixture
def contract(contract_for):
    return contract_for(BASE)


# ---------------------------------------------------------------- helpers
@pytest.fixture
def admin(sb_client):
    return Admin(client=sb_client)


@pytest.fixture
def api(sb_client, contract):
    return Api(sb_client, contract)


@pytest.fixture
def token_for(sb_app):
    """Issue an access token for a user (by email) to the configured portal client, as /oauth/token would."""

    def issue(email, client_id=PORTAL_CLIENT["client_id"]):
        with sb_app.test_request_context(base_url=BASE):
            store.db.connect(reuse_if_open=True)
            user = store.User.get(store.User.email == email)
            client = store.OAuthClient.get(store.OAuthClient.client_id == client_id)
            return oauth.issue_token(client, user, "default")

    return issue


@pytest.fixture
def send_due(sb_app):
    """Run the webhook sender once (repeat until nothing is due, within ``rounds``)."""

    def run(rounds=1):
        total = 0
        for _ in range(rounds):
            total += webhooks.send_due(sb_app)
        return total

    return run


# ---------------------------------------------------------------- webhook receiver
@pytest.fixture
def receiver(contract):
    """A webhook receiver; every payload it got is checked against the OpenAPI at the end."""
    r = Receiver()
    yield r
    r.close()
    for req in r.requests:
        contract.check_payload(req["body"])


# ---------------------------------------------------------------- common world
@pytest.fixture
def world(admin, token_for):
    """A paid solo user with an event type, a Teams org (owner + member) with a round robin, a free user."""
    solo = admin.user("solo@example.com", plan="professional")
    team_owner = admin.user("owner@example.com", plan="teams", organization_name="Team Org")
    member = admin.user("member@example.com", organization=team_owner["organization"]["uri"], role="user")
    free = admin.user("free@example.com", plan="basic", stage="free")
    chat = admin.event_type("Chat", ["solo@example.com"])
    rr = admin.event_type("Team Demo", ["owner@example.com", "member@example.com"], pooling_type="round_robin")
    return {
        "solo": solo, "owner": team_owner, "member": member, "free": free, "chat": chat, "rr": rr,
        "solo_token": token_for("solo@example.com")["access_token"],
        "owner_token": token_for("owner@example.com")["access_token"],
        "member_token": token_for("member@example.com")["access_token"],
        "free_token": token_for("free@example.com")["access_token"],
    }
