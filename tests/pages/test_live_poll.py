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
