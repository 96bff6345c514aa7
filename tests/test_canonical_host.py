"""Pages opened on another name of the portal go to the base URL's; machines' endpoints work on any name (issue 16, 9)."""
import re

import pytest
from browser_steps import connect_at_calendly, open_connections, sign_in
from playwright.sync_api import expect

from portal.models import Subaccount
from sync.helpers import one_of_each

BASE = "http://localhost:5000"
OTHER = "http://127.0.0.1:5000"
on_localhost = pytest.mark.portal_config(CANONICAL_HOST_REDIRECT=True, PORTAL_BASE_URL=BASE)


@on_localhost
def test_a_page_on_another_name_is_redirected_to_the_base_url_with_its_path_and_query(client):
    resp = client.get("/signin?next=%2Fcontacts%2F", base_url=OTHER)
    assert resp.status_code == 302 and resp.headers["Location"] == BASE + "/signin?next=%2Fcontacts%2F"
    assert client.get("/calendars/week", base_url=OTHER).headers["Location"] == BASE + "/calendars/week"
    assert client.get("/signin", base_url=BASE).status_code == 200  # the base URL's own name is served
    assert client.get("/signin", base_url="http://LOCALHOST:5000").status_code == 200


@on_localhost
def test_a_name_the_portal_does_not_answer_to_is_refused_not_redirected(client):
    resp = client.get("/signin", headers={"Host": "evil.test"})
    assert resp.status_code == 400 and "Location" not in resp.headers


@on_localhost
def test_webhooks_the_live_poll_and_the_monitoring_json_are_answered_on_any_name(client, app_ctx, people, auth):
    alice = people.user("alice@acme.test", role="admin")
    people.user("staff@agency.test", subaccount=None, support=True)
    ids = one_of_each(alice, Subaccount.get(name="Acme Dental"))
    # A delivery the sandbox (or Calendly) posts to whatever name it was given: read, not redirected.
    resp = client.post(f"/webhooks/calendly/{ids['webhook_token']}", data=b"{}", base_url=OTHER,
                       headers={"Content-Type": "application/json"})
    assert resp.status_code < 300 or 400 <= resp.status_code < 500, resp.status_code
    assert "Location" not in resp.headers
    auth.login("staff@agency.test")
    assert client.get("/support/api/connections", base_url=OTHER).status_code == 200
    assert client.get("/live?t=x", base_url=OTHER).status_code in (204, 400, 403, 404)
    # A form posted to the other name is not redirected (its body would be lost).
    assert client.post("/signout", base_url=OTHER).headers.get("Location") != BASE + "/signout"


@pytest.mark.portal_config(CANONICAL_HOST_REDIRECT=True, PORTAL_BASE_URL="https://portal.example.com")
def test_the_default_port_of_the_scheme_is_the_same_name(client):
    resp = client.get("/signin", base_url="https://portal.example.com:443")
    assert resp.status_code == 200


@pytest.mark.e2e
def test_connect_started_on_the_other_loopback_name_comes_back_signed_in_and_connected(
        page, live_server, sandbox, people):
    """The live portal's base URL is http://127.0.0.1:<port>; the person types localhost instead."""
    people.user("nina@acme.test", name="Nina Park")
    sandbox.create_user("nina@calendly.test", name="Nina Park")
    sandbox.create_event_type("Intro call", hosts=["nina@calendly.test"])
    other = live_server.replace("127.0.0.1", "localhost")
    page.goto(other + "/signin")
    expect(page).to_have_url(live_server + "/signin")  # redirected before signing in
    sign_in(page, other, "nina@acme.test")
    expect(page).to_have_url(re.compile("^" + re.escape(live_server)))
    open_connections(page)
    connect_at_calendly(page, "nina@calendly.test")
    expect(page.get_by_role("dialog", name="Choose calendars to import")).to_be_visible()
    expect(page.get_by_text("We could not verify this Calendly sign-in")).to_have_count(0)


def test_make_run_prints_the_one_portal_url_to_open_the_base_url_it_configured(tmp_path):
    from portal.devstack import banner_lines, stack_env

    env = stack_env(portal_port=5000, sandbox_port=5001, redis_url="redis://127.0.0.1:6390/0",
                    database_url="sqlite:///x.db", instance_dir=str(tmp_path), sandbox_db="s.db",
                    creds={"client_id": "c", "client_secret": "s", "webhook_signing_key": "k"}, host="localhost")
    text = "\n".join(banner_lines(env["CALBRIDGE_PORTAL_BASE_URL"], env["SANDBOX_BASE_URL"], env["REDIS_URL"],
                                  env["DATABASE_URL"], str(tmp_path / "logs"), str(tmp_path / "mail")))
    portal_urls = re.findall(r"http://[\w.]+:5000\S*", text)
    assert portal_urls == ["http://localhost:5000"] == [env["CALBRIDGE_PORTAL_BASE_URL"]]
    assert "Open the portal at http://localhost:5000" in text
    assert "alice@calbridge.test" in text  # the sign-ins still follow
