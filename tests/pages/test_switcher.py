"""The subaccount switcher keeps one's place, and a link into one's other subaccount offers the switch (issue 16, 8)."""
import pytest

from portal.extensions import db
from portal.models import Subaccount
from page_text import without_tokens


@pytest.fixture
def ann(people, auth):
    """Ann: admin of Acme Dental (her first), a user of Brightside; Hidden Co is someone else's."""
    user = people.user("ann@acme.test", role="admin", name="Ann Owner")
    people.user("ann@acme.test", subaccount="Brightside", role="user")
    people.user("zed@hidden.test", subaccount="Hidden Co", role="admin")
    auth.login("ann@acme.test")
    return user


def sub_id(name):
    with db.connection_context():
        return Subaccount.get(name=name).id


def switch(client, name, **form):
    resp = client.post("/switch", data={"subaccount_id": sub_id(name), **form})
    assert resp.status_code == 303
    return resp.headers["Location"]


def test_a_switch_stays_on_the_same_page_with_its_date_but_not_the_old_subaccounts_records(client, ann, rows):
    appointment = rows.appointment()
    contact = rows.contact(name="Grace Hopper")
    assert switch(client, "Brightside", current="/calendars/week?start=2030-01-07&select=12") \
        == "/calendars/week?start=2030-01-07"
    switch(client, "Acme Dental")
    assert switch(client, "Brightside", current=f"/calendars/appointments/{appointment.id}") == "/calendars/"
    switch(client, "Acme Dental")
    assert switch(client, "Brightside", current=f"/contacts/{contact.id}") == "/contacts/"
    switch(client, "Acme Dental")
    assert switch(client, "Brightside", current="/calendars?start=2030-01-07") == "/calendars/?start=2030-01-07"
    switch(client, "Acme Dental")
    # Ann is not an admin in Brightside: Sent emails does not exist for her there.
    assert switch(client, "Brightside", current="/emails/") == "/dashboard"
    assert "Brightside" in client.get("/dashboard").get_data(as_text=True)
    for odd in ("https://evil.test/", "//evil.test/x", "/no/such/page", "/switch", ""):
        switch(client, "Acme Dental")
        assert switch(client, "Brightside", current=odd) == "/dashboard", odd


def test_the_switcher_on_every_page_carries_the_page_it_is_on(client, ann):
    page = client.get("/calendars/week?start=2030-01-07").get_data(as_text=True)
    assert 'name="current" value="/calendars/week?start=2030-01-07"' in page
    assert "data-autosubmit" not in page.split('id="subaccount-switcher"', 1)[1].split(">", 1)[0]


def test_a_link_to_a_record_of_ones_other_subaccount_offers_to_switch_and_opens_it(client, ann, rows):
    theirs = rows.appointment(subaccount="Brightside", title="Brightside viewing")
    grace = rows.contact(subaccount="Brightside", name="Grace Hopper")
    for path in (f"/calendars/appointments/{theirs.id}", f"/contacts/{grace.id}"):
        resp = client.get(path)
        page = resp.get_data(as_text=True)
        assert resp.status_code == 200 and "Switch to Brightside to open this" in page, path
        assert "Brightside viewing" not in page and "Grace Hopper" not in page  # not shown before the switch
        assert switch(client, "Brightside", open=path) == path
        assert client.get(path).status_code == 200
        switch(client, "Acme Dental")
    # Fragments and changes are not offered anything: the record is simply not in this subaccount.
    assert client.get(f"/calendars/appointments/{theirs.id}", headers={"HX-Request": "true"}).status_code == 404
    assert client.get(f"/contacts/{grace.id}", headers={"Accept": "application/json"}).status_code == 404
    assert client.delete(f"/calendars/appointments/{theirs.id}").status_code == 404


def test_a_record_of_a_subaccount_one_does_not_belong_to_is_a_plain_404_naming_nothing(client, ann, rows):
    hidden = rows.appointment(subaccount="Hidden Co", title="Secret meeting")
    hidden_contact = rows.contact(subaccount="Hidden Co", name="Secret Person")
    for path, missing in ((f"/calendars/appointments/{hidden.id}", "/calendars/appointments/999999"),
                          (f"/contacts/{hidden_contact.id}", "/contacts/999999")):
        resp = client.get(path)
        page = resp.get_data(as_text=True)
        assert resp.status_code == 404 and "Hidden Co" not in page and "Switch to" not in page
        # Exactly what a record that does not exist answers (only the page's own address differs).
        assert without_tokens(page) == without_tokens(client.get(missing).get_data(as_text=True).replace(missing, path))
    assert client.post("/switch", data={"subaccount_id": sub_id("Hidden Co"),
                                        "open": f"/contacts/{hidden_contact.id}"}).status_code == 404
