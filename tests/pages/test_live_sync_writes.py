"""The sync's other writes wake open pages too (portal/live.py ``touch``): each batch of a purge, a calendar
renamed or deleted in Calendly, a join link Calendly gives later, and the owners a member's removal hands
over. An open Calendars page's poll answers 204 while nothing changed and the new version after these."""
import re
from datetime import timedelta

import pytest
from sync.helpers import booking, make_connection, select

from portal.extensions import db
from portal.models import Appointment, Membership, Source, Subaccount
from portal.pipeline import member_removal
from portal.sync import deletion
from portal.sync.apply import RECONCILE, WEBHOOK, apply_booking
from portal.sync.event_types import follow_event_type
from portal.timeutil import utcnow

ET = "https://api.calendly.com/event_types/CLEANING"


class OpenPage:
    """The Calendars list as a signed-in browser holds it: its poll URL and the version it was drawn at."""

    def __init__(self, client):
        html = client.get("/calendars/").get_data(as_text=True)
        self.client = client
        self.url = re.search(r'data-live-url="([^"]+)"', html).group(1).replace("&amp;", "&")
        self.version = re.search(r'data-live-version="([^"]*)"', html).group(1)

    def woken(self):
        """Whether the poll answers a new version; the page then holds that one."""
        answer = self.client.get(f"{self.url}&v={self.version}")
        if answer.status_code == 204:
            return False
        assert answer.status_code == 200
        self.version = answer.get_data(as_text=True)
        return True


@pytest.fixture
def ann_connected(app, signed_in):
    """Ann (signed in) with a connection importing Cleaning: ``(subaccount, connection)``."""
    with app.app_context(), db.connection_context():
        sub = Subaccount.get(Subaccount.name == "Acme Dental")
        conn = make_connection(signed_in, sub)
        select(conn, ET, "Cleaning")
        return sub, conn


def _cleanings(sub, owner, n):
    start = (utcnow() + timedelta(days=1)).replace(microsecond=0)
    return [Appointment.create(subaccount=sub, source=Source.CALENDLY, title="Cleaning", calendar_name="Cleaning",
                               start=start + timedelta(hours=i), end=start + timedelta(hours=i, minutes=30),
                               owner=owner, event_type_uri=ET, invitee_uri=f"{ET}/invitees/{i}")
            for i in range(n)]


def test_each_batch_of_a_purge_wakes_open_pages(app, client, signed_in, ann_connected):
    sub, conn = ann_connected
    with app.app_context(), db.connection_context():
        _cleanings(sub, signed_in, 3)
        deletion.close_selection(conn, ET, deletion.DELETE)
    page = OpenPage(client)
    with app.app_context(), db.connection_context():
        assert deletion.purge_batch(sub.id, ET, 2) == 2
    assert page.woken(), "the first batch's deletions reach the open page before the purge ends"
    with app.app_context(), db.connection_context():
        assert deletion.purge_batch(sub.id, ET, 2) == 1
    assert page.woken()
    with app.app_context(), db.connection_context():
        assert deletion.purge_batch(sub.id, ET, 2) == 0
    assert not page.woken()  # nothing left, nothing changed


def test_a_calendar_renamed_or_deleted_in_calendly_wakes_open_pages(app, client, signed_in, ann_connected):
    sub, conn = ann_connected
    with app.app_context(), db.connection_context():
        _cleanings(sub, signed_in, 1)
    page = OpenPage(client)
    with app.app_context(), db.connection_context():
        follow_event_type(conn, {"uri": ET, "name": "Cleaning", "active": True})
    assert not page.woken()  # read again unchanged: the pages stay quiet
    with app.app_context(), db.connection_context():
        follow_event_type(conn, {"uri": ET, "name": "Deep cleaning", "active": True})
        assert Appointment.get().calendar_name == "Deep cleaning"
    assert page.woken()
    with app.app_context(), db.connection_context():
        follow_event_type(conn, {"uri": ET, "name": "Deep cleaning", "active": False})
    assert page.woken()  # its Connections row now says it was deleted in Calendly


def test_a_join_link_calendly_gives_after_the_booking_wakes_open_pages(app, client, signed_in, ann_connected):
    sub, conn = ann_connected
    with app.app_context(), db.connection_context():
        apply_booking(conn, booking(ET, location_kind="zoom_conference"), WEBHOOK)
    page = OpenPage(client)
    with app.app_context(), db.connection_context():
        apply_booking(conn, booking(ET, location_kind="zoom_conference"), RECONCILE)
    assert not page.woken()  # seen again as it was
    with app.app_context(), db.connection_context():
        apply_booking(conn, booking(ET, location_kind="zoom_conference", join_url="https://zoom.us/j/7"), RECONCILE)
        assert Appointment.get().join_url == "https://zoom.us/j/7"
    assert page.woken()


def test_the_owners_a_member_removal_hands_over_wake_open_pages(app, client, people, signed_in):
    boss = people.user("boss@acme.test", role="admin", name="Boss Admin")
    bob = people.user("bob@acme.test", name="Bob Baker")
    with app.app_context(), db.connection_context():
        sub = Subaccount.get(Subaccount.name == "Acme Dental")
        (mine,) = _cleanings(sub, bob, 1)  # no contact: no assigned user changes, only the owner
    page = OpenPage(client)
    with app.app_context(), db.connection_context():
        membership = Membership.get(user=bob, subaccount=sub)
        member_removal.remove(membership, boss, None, boss.id)
        assert Appointment.get_by_id(mine.id).owner_id == boss.id
    assert page.woken()
