"""Sign-in, sign-out, throttling and session hygiene (SPEC T3)."""
import pytest


def test_signin_page_has_labelled_fields(client):
    page = client.get("/signin").get_data(as_text=True)
    assert '<label for="email">Email</label>' in page
    assert '<label for="password">Password</label>' in page
    assert ">Sign in</button>" in page


def test_signin_then_dashboard(client, people, auth):
    people.user("admin@acme.test", role="admin")
    resp = auth.login()
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/dashboard")
    page = client.get("/dashboard").get_data(as_text=True)
    assert "Acme Dental" in page and "Dashboard" in page


def test_wrong_password_is_refused_without_saying_which_part(client, people, auth):
    people.user("admin@acme.test")
    resp = auth.login(password="nope")
    assert resp.status_code == 401
    assert "Email or password is incorrect." in resp.get_data(as_text=True)
    assert client.get("/dashboard").status_code == 302  # still signed out


def test_brute_force_is_throttled(client, people, auth):
    people.user("admin@acme.test")
    for _ in range(5):
        auth.login(password="wrong")
    # Even the right password is refused while the account is locked.
    resp = auth.login()
    assert resp.status_code == 429
    assert "Too many failed attempts" in resp.get_data(as_text=True)


def test_an_unknown_address_is_locked_like_a_real_one(client, auth):
    """The lock must not tell an attacker which accounts exist."""
    statuses = [auth.login("nobody@acme.test", "guess").status_code for _ in range(6)]
    assert statuses == [401] * 5 + [429]


def test_signout_ends_the_session(client, people, auth):
    people.user("admin@acme.test")
    auth.login()
    auth.logout()
    assert client.get("/dashboard").status_code == 302


def test_session_is_renewed_on_signin(client, people, auth):
    people.user("admin@acme.test")
    client.get("/signin")
    with client.session_transaction() as s:
        s["planted"] = "by-attacker"
    auth.login()
    with client.session_transaction() as s:
        assert "planted" not in s


def test_next_parameter_cannot_redirect_off_site(client, people):
    people.user("admin@acme.test")
    resp = client.post("/signin?next=https://evil.example/", data={"email": "admin@acme.test", "password": "password123"})
    assert resp.headers["Location"].endswith("/dashboard")


@pytest.mark.csrf
def test_signin_without_csrf_token_is_refused(client, people):
    people.user("admin@acme.test")
    resp = client.post("/signin", data={"email": "admin@acme.test", "password": "password123"})
    assert resp.status_code == 400


def test_switching_subaccount(client, people, auth):
    people.user("admin@acme.test", role="admin")
    people.user("admin@acme.test", subaccount="Brightside Realty", role="user")
    people.user("other@x.test", subaccount="Hidden Co")
    auth.login()
    page = client.get("/dashboard").get_data(as_text=True)
    assert 'id="subaccount-switcher"' in page and "Brightside Realty" in page and "Hidden Co" not in page
    from portal.extensions import db
    from portal.models import Subaccount
    with db.connection_context():
        bright = Subaccount.get(name="Brightside Realty").id
        hidden = Subaccount.get(name="Hidden Co").id
    client.post("/switch", data={"subaccount_id": bright})
    assert "<p class=\"muted\">Brightside Realty</p>" in client.get("/dashboard").get_data(as_text=True)
    assert client.post("/switch", data={"subaccount_id": hidden}).status_code == 404
