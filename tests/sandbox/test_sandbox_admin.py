"""The ``/_sandbox`` control API and demo data."""
import subprocess
import sys
import time

import requests
from sandbox_helpers import BASE, PORTAL_CLIENT, at

from sandbox import create_app, demo, store


def test_create_user_gives_user_and_own_organization(admin):
    body = admin.user("ann@example.com", plan="teams", stage="trial")
    assert body["user"]["uri"].startswith(f"{BASE}/users/") and body["user"]["email"] == "ann@example.com"
    assert body["organization"]["uri"] == body["user"]["current_organization"]
    assert (body["organization"]["plan"], body["organization"]["stage"]) == ("teams", "trial")
    status, err = admin.call("POST", "/users", {"name": "Ann", "email": "ANN@example.com", "password": "x"})
    assert status == 409 and "exists" in err["error"]
    status, err = admin.call("POST", "/users", {"email": "bad@example.com", "password": "x", "plan": "gold"})
    assert status == 400


def test_join_an_existing_organization_with_a_role(api, admin, token_for):
    owner = admin.user("boss@example.com", plan="enterprise")
    joined = admin.user("staff@example.com", organization=owner["organization"]["uri"], role="admin")
    assert joined["organization"]["uri"] == owner["organization"]["uri"]
    token = token_for("staff@example.com")["access_token"]
    roles = api.get("/organization_memberships", token, organization=owner["organization"]["uri"]).json
    assert sorted(m["role"] for m in roles["collection"]) == ["admin", "owner"]


def test_patch_user_changes_the_plan(admin):
    user = admin.user("up@example.com", plan="basic", stage="free")
    body = admin.patch_user(user["user"]["uri"], plan="professional", stage="paid")
    assert (body["organization"]["plan"], body["organization"]["stage"]) == ("professional", "paid")
    status, _ = admin.call("PATCH", "/users/nope", {"plan": "teams"})
    assert status == 404


def test_oauth_clients_and_reset_keeps_only_config_clients(sb_app, admin):
    made = admin.call("POST", "/oauth_clients", {"name": "Other", "redirect_uris": ["http://x.test/cb"]}, expect=201)
    assert set(made) == {"client_id", "client_secret", "webhook_signing_key"}
    admin.user("gone@example.com")
    assert admin.call("POST", "/reset", expect=200)["status"] == "ok"
    assert admin.call("GET", "/users", expect=200)["collection"] == []
    with sb_app.app_context(), store.db.connection_context():
        ids = [c.client_id for c in store.OAuthClient.select()]
        portal = store.OAuthClient.get(store.OAuthClient.client_id == PORTAL_CLIENT["client_id"])
        assert ids == [PORTAL_CLIENT["client_id"]]
        assert portal.webhook_signing_key == PORTAL_CLIENT["webhook_signing_key"]


def test_event_type_and_booking_validation(admin):
    admin.user("host@example.com")
    status, err = admin.call("POST", "/event_types", {"name": "X", "hosts": ["nobody@example.com"]})
    assert status == 404
    status, err = admin.call("POST", "/event_types", {"name": "X", "hosts": ["host@example.com"],
                                                      "pooling_type": "weird"})
    assert status == 400
    et = admin.event_type("Quick", ["host@example.com"], duration=15, custom_questions=[
        {"name": "Company", "type": "string", "required": True}])
    assert et["duration"] == 15 and et["custom_questions"][0]["name"] == "Company"
    status, err = admin.call("POST", "/bookings", {"event_type": et["uri"], "invitee": {"name": "A",
                                                                                         "email": "a@x.test"}})
    assert status == 400 and "start_time" in err["error"]
    booked = admin.book(et["uri"], at(1))
    assert booked["invitee"].startswith(booked["event"] + "/invitees/")
    admin.cancel(booked["invitee"])
    status, err = admin.call("POST", f"/invitees/{booked['invitee'].rsplit('/', 1)[1]}/cancel", {})
    assert status == 409


def test_tokens_listing_never_shows_token_strings(admin, token_for):
    admin.user("t@example.com")
    issued = token_for("t@example.com")
    listed = admin.tokens()
    assert [(t["kind"], t["revoked"], t["client_id"]) for t in listed] == [
        ("access", False, PORTAL_CLIENT["client_id"]), ("refresh", False, PORTAL_CLIENT["client_id"])]
    assert issued["access_token"] not in str(listed) and issued["refresh_token"] not in str(listed)
    assert admin.call("POST", "/tokens/revoke_all", {"user": "t@example.com"}, expect=200) == {"revoked": 1}
    assert all(t["revoked"] for t in admin.tokens())


def test_health(sb_client):
    assert sb_client.get("/_sandbox/health").json == {"status": "ok"}


def test_demo_seed_is_idempotent(tmp_path):
    cfg = {"SANDBOX_DATABASE": str(tmp_path / "demo.db"), "SANDBOX_DEMO": "1", "SANDBOX_WEBHOOK_SENDER": "off",
           "SANDBOX_BASE_URL": BASE}
    for _ in range(2):
        app = create_app(cfg)
        app.extensions["sandbox"].stop()
    with app.app_context(), store.db.connection_context():
        emails = sorted(u.email for u in store.User.select())
        assert emails == sorted(a["email"] for a in demo.DEMO_ACCOUNTS)
        names = sorted(e.name for e in store.EventType.select())
        assert {"30 Minute Meeting", "Intro Call", "Sales Demo", "Ava 1:1"} <= set(names)
        assert len(names) == len(set(names))
        sales = store.EventType.get(store.EventType.name == "Sales Demo")
        assert sales.pooling_type == "round_robin" and {h.user.email for h in sales.hosts} == {
            "ava@calendly.test", "ben@calendly.test"}
        ava = store.User.get(store.User.email == "ava@calendly.test")
        ben = store.User.get(store.User.email == "ben@calendly.test")
        assert ava.organization_id == ben.organization_id and ava.organization.plan == "teams"
        assert store.User.get(store.User.email == "free@calendly.test").organization.plan == "basic"
        assert store.User.get(store.User.email == "trial@calendly.test").organization.stage == "trial"
        assert store.WebhookJob.select().count() == 0
    assert all({"email", "password", "plan", "description"} <= set(a) for a in demo.DEMO_ACCOUNTS)


def test_python_m_sandbox_starts_and_serves_its_demo_accounts(tmp_path):
    """How fast it starts is ``make bench``'s business; here it must start, answer and hold the demo data."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {"SANDBOX_DATABASE": str(tmp_path / "cli.db"), "PATH": "/usr/bin:/bin", "SANDBOX_DEMO": "1",
           "SANDBOX_OAUTH_CLIENTS": '[{"name": "P", "client_id": "p", "client_secret": "s", '
                                    '"redirect_uris": ["http://localhost/cb"], "webhook_signing_key": "k"}]'}
    started = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "sandbox", "--port", str(port)], env=env,
                            cwd=str(__import__("pathlib").Path(__file__).resolve().parents[2]),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        while True:
            try:
                resp = requests.get(f"http://127.0.0.1:{port}/_sandbox/health", timeout=0.5)
                break
            except requests.ConnectionError:
                assert proc.poll() is None, proc.stdout.read().decode()
                assert time.monotonic() - started < 60, "the sandbox did not answer within a minute"
                time.sleep(0.05)
        assert resp.json() == {"status": "ok"}
        users = requests.get(f"http://127.0.0.1:{port}/_sandbox/users").json()["collection"]
        assert sorted(u["user"]["email"] for u in users) == sorted(a["email"] for a in demo.DEMO_ACCOUNTS)
        assert all(u["user"]["uri"].startswith(f"http://localhost:{port}/users/") for u in users)
    finally:
        proc.terminate()
        proc.wait(5)
