"""The live poll (portal/live.py): 204 while nothing changed, the new version once a change is
committed, nothing for a rolled-back one, and only for the signed-in user's own subaccount."""
import re

import pytest

from portal import live
from portal.extensions import db
from portal.models import Subaccount


def _poll_url(html):
    return re.search(r'data-live-url="([^"]+)"', html).group(1).replace("&amp;", "&")


def _drawn_at(html):
    return re.search(r'data-live-version="([^"]*)"', html).group(1)


def test_the_poll_is_quiet_until_a_portal_appointment_is_created(client, signed_in):
    html = client.get("/calendars/").get_data(as_text=True)
    url, version = _poll_url(html), _drawn_at(html)
    assert client.get(f"{url}&v={version}").status_code == 204
    made = client.post("/calendars/appointments/new", data={
        "title": "Check-up", "start": "2031-03-04T10:00", "end": "2031-03-04T10:30",
        "contact_email": "pat@example.com", "contact_name": "Pat"})
    assert made.status_code in (302, 303)
    changed = client.get(f"{url}&v={version}")
    assert changed.status_code == 200 and changed.get_data(as_text=True) != version
    assert changed.headers["Cache-Control"] == "no-store"
    assert client.get(f"{url}&v={changed.get_data(as_text=True)}").status_code == 204


def test_a_rolled_back_change_does_not_wake_the_pages(app, signed_in):
    with app.app_context(), db.connection_context():
        sub = Subaccount.get(Subaccount.name == "Acme Dental")
        before = live.version(sub.id)
        with pytest.raises(RuntimeError):
            with db.atomic():
                live.touch(sub.id)
                raise RuntimeError("the write failed")
        assert live.version(sub.id) == before
        with db.atomic():
            live.touch(sub.id)
            assert live.version(sub.id) == before  # not before the commit
        assert live.version(sub.id) != before


def test_another_subaccounts_change_leaves_this_page_quiet(app, client, signed_in, people):
    people.subaccount("Other Clinic")
    html = client.get("/calendars/").get_data(as_text=True)
    url, version = _poll_url(html), _drawn_at(html)
    with app.app_context(), db.connection_context():
        live.touch(Subaccount.get(Subaccount.name == "Other Clinic").id)
    assert client.get(f"{url}&v={version}").status_code == 204


def test_the_poll_is_refused_after_sign_out_and_for_a_forged_token(client, signed_in, auth):
    url = _poll_url(client.get("/calendars/").get_data(as_text=True))
    assert client.get("/live?t=forged").status_code == 404
    assert client.get("/live").status_code == 404
    client.post("/signout")
    refused = client.get(url)
    assert refused.status_code == 401 and "sign in" in refused.get_data(as_text=True).lower()


def _list_key(html):
    return re.search(r'data-live-key="([0-9a-f]+)"', html).group(1)


def test_the_poll_hands_over_the_calendars_list_once_a_page_has_drawn_it(app, client, signed_in, people):
    html = client.get("/calendars/?when=all").get_data(as_text=True)
    url, version, key = _poll_url(html), _drawn_at(html), _list_key(html)
    assert client.get(f"{url}&v={version}&k={key}").status_code == 204
    made = client.post("/calendars/appointments/new", data={
        "title": "Handed over", "start": "2031-03-04T10:00", "end": "2031-03-04T10:30",
        "contact_email": "pat@example.com", "contact_name": "Pat"})
    assert made.status_code in (302, 303)
    # No page has drawn the list at the new version yet: the answer says so, the page asks the list itself.
    first = client.get(f"{url}&v={version}&k={key}").get_json()
    assert first["version"] != version and first["html"] is None
    drawn = client.get("/calendars/?when=all", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "Handed over" in drawn
    # Every other page at that version gets the same list in its poll answer.
    handed = client.get(f"{url}&v={version}&k={key}").get_json()
    assert handed["html"] == drawn and handed["version"] == first["version"]
    assert f'data-live-fingerprint="{handed["fingerprint"]}"' in drawn
    assert client.get(f"{url}&v={handed['version']}&k={key}").status_code == 204


def test_the_poll_never_hands_over_another_subaccounts_list(app, client, signed_in, people, auth):
    other = people.subaccount("Other Clinic")
    people.user("olga@other.test", name="Olga", subaccount="Other Clinic")
    html = client.get("/calendars/?when=all").get_data(as_text=True)
    url, key = _poll_url(html), _list_key(html)
    with app.app_context(), db.connection_context():
        live.touch(other.id)
        live.touch(Subaccount.get(Subaccount.name == "Acme Dental").id)
    client.post("/signout")
    auth.login("olga@other.test")
    theirs = client.get("/calendars/?when=all", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert _list_key(theirs) == key  # same list, same zone, same version number: only the subaccount differs
    client.post("/signout")
    auth.login("ann@acme.test")
    url = _poll_url(client.get("/calendars/?when=all").get_data(as_text=True))
    assert client.get(f"{url}&v=0&k={key}").get_json()["html"] is None
