"""Production settings (issue 12, item 5): headers on every response, hosts, proxies, cookies, files, logs."""
import os
import stat

import pytest

from portal.database import migrate_url
from sync.helpers import one_of_each
import requests

from portal import create_app
from portal.devstack import PROJECT_ROOT, Service, free_port
from portal.models import Subaccount

from .helpers import url_for_rule

# A session cookie past what a browser keeps (it would sign the person out) fails the sweep.
pytestmark = [pytest.mark.reliability,
              pytest.mark.filterwarnings("error:The 'calbridge_session' cookie is too large:UserWarning")]

REQUIRED = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
GUNICORN_CONF = os.path.join(PROJECT_ROOT, "portal", "gunicorn_conf.py")


def assert_security_headers(resp, what):
    for name, value in REQUIRED.items():
        assert resp.headers.get(name) == value, f"{what}: {name} = {resp.headers.get(name)!r}"
    csp = resp.headers.get("Content-Security-Policy", "")
    directives = dict((d.strip().split(" ", 1) + [""])[:2] for d in csp.split(";") if d.strip())
    assert directives.get("frame-ancestors") == "'none'", f"{what}: {csp!r}"
    assert directives.get("script-src") == "'self'" and "unsafe" not in csp, f"{what}: {csp!r}"


@pytest.fixture
def ids(app_ctx, people):
    alice = people.user("alice@acme.test", role="admin")
    people.user("staff@agency.test", subaccount=None, support=True)
    return one_of_each(alice, Subaccount.get(name="Acme Dental"))  # an id for every route argument


@pytest.mark.parametrize("who", [None, "alice@acme.test", "staff@agency.test"],
                         ids=["signed out", "subaccount admin", "support staff"])
def test_every_page_and_response_carries_the_security_headers(app, client, auth, ids, who, reliability_report):
    if who:
        auth.login(who)
    checked = 0
    for rule in app.url_map.iter_rules():
        url = url_for_rule(rule, ids) if rule.endpoint != "static" else "/static/app.js"
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            for headers in ({}, {"HX-Request": "true"}):
                resp = client.open(url, method=method, headers=headers)
                assert_security_headers(resp, f"{method} {url} [{resp.status_code}]")
                checked += 1
    assert_security_headers(client.get("/no/such/page"), "a 404")
    assert checked > 60
    reliability_report.check(f"Security headers ({who or 'signed out'})",
                             f"{checked} responses of every route, all with CSP, frame-ancestors, nosniff, Referrer")


def test_a_foreign_host_header_is_refused_not_reflected(client):
    resp = client.get("/dashboard", headers={"Host": "evil.test"})
    assert resp.status_code == 400
    assert "evil.test" not in resp.headers.get("Location", "")
    assert client.get("/dashboard", headers={"Host": "localhost"}).status_code == 302
    assert client.get("/signin", headers={"Host": "127.0.0.1:5000"}).status_code == 200


@pytest.mark.portal_config(PORTAL_BASE_URL="https://portal.example.com", PROXY_COUNT=1)
def test_behind_one_proxy_the_forwarded_host_and_scheme_are_used_and_the_cookie_is_secure(app, client, people):
    people.user("ann@acme.test")
    forwarded = {"X-Forwarded-Host": "portal.example.com", "X-Forwarded-Proto": "https",
                 "X-Forwarded-For": "198.51.100.4"}
    resp = client.post("/signin", data={"email": "ann@acme.test", "password": "password123"},
                       headers=forwarded, base_url="http://10.0.0.5:8000")
    assert resp.status_code == 302
    cookie = resp.headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie
    assert "max-age" in resp.headers.get("Strict-Transport-Security", "")
    # The proxy's own address as Host, without the forwarded one, is not a name of this portal.
    assert client.get("/signin", base_url="http://10.0.0.5:8000").status_code == 400


def test_without_a_proxy_forwarded_headers_are_not_believed(client):
    resp = client.get("/signin", headers={"X-Forwarded-Host": "evil.test", "X-Forwarded-Proto": "https"})
    assert resp.status_code == 200 and "evil.test" not in resp.get_data(as_text=True)


def test_the_instance_folder_and_its_files_are_the_owners_alone(stack, tmp_path):
    instance = tmp_path / "instance"
    (instance / "logs").mkdir(parents=True)
    (instance / "logs" / "portal.log").write_text("started\n")
    os.chmod(instance / "logs" / "portal.log", 0o644)
    # Database created and migrated, keys generated: what a first `make run` in a fresh instance folder does.
    migrate_url(f"sqlite:///{instance}/calbridge.db")
    create_app({"TESTING": True, "INSTANCE_PATH": str(instance), "DATABASE_URL": f"sqlite:///{instance}/calbridge.db",
                "REDIS_URL": stack["redis_url"]})
    modes = {str(p.relative_to(tmp_path)): stat.S_IMODE(p.stat().st_mode) for p in tmp_path.rglob("*")}
    assert {"instance/calbridge.db", "instance/secret_key", "instance/encryption.key",
            "instance/logs/portal.log"} <= set(modes)
    for path, mode in modes.items():
        expected = 0o700 if (tmp_path / path).is_dir() else 0o600
        assert mode == expected, f"{path}: {oct(mode)}"


def test_gunicorn_access_log_masks_the_webhook_token(stack, app, ids, tmp_path, reliability_report):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = dict(stack["env"], CALBRIDGE_PORTAL_BASE_URL=url)
    argv = [os.path.join(os.path.dirname(os.sys.executable), "gunicorn"), "-c", GUNICORN_CONF, "--workers", "1",
            "--bind", f"127.0.0.1:{port}", "--access-logfile", "-", "wsgi:app"]
    portal = Service("portal-masked", argv, env, str(tmp_path), health_url=url + "/signin").start()
    try:
        token = ids["webhook_token"]
        for path in (f"/webhooks/calendly/{token}", f"/webhooks/calendly/{token}?x=1", "/webhooks/calendly/guess-x"):
            resp = requests.post(url + path, data=b"{}", timeout=10,
                                 headers={"Referer": url + f"/webhooks/calendly/{token}"})
            assert resp.status_code < 500
    finally:
        portal.stop()
    with open(portal.log_path, errors="replace") as f:
        log = f.read()
    assert "POST /webhooks/calendly/*** HTTP/1.1" in log, log[-2000:]
    assert token not in log and "guess-x" not in log
    reliability_report.check("Gunicorn access log (portal/gunicorn_conf.py)",
                             "webhook tokens written as /webhooks/calendly/*** (request line and Referer)")
