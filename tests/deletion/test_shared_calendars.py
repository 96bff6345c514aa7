"""Shared calendars: deleted only when every member who connected them chose Delete (SPEC D4, D5)."""
import re
import time

import pytest

from sync.helpers import wait_for

from portal.models import AuditEntry, Task

from deletion_helpers import INDEX, count, flashes, page, save_edit, wait_for_appointment

pytestmark = pytest.mark.slow


@pytest.fixture
def both_connected(team, worker):
    """Ann and Bob both connected Team intake (round robin); two bookings of it imported."""
    team.ann_conn = team.connect(team.ann, "ann@cal.test", ["Cleaning", "Team intake"])
    team.bob_conn = team.connect(team.bob, "bob@cal.test", ["Consult", "Team intake"])
    team.shared = [team.book(team.intake), team.book(team.intake)]
    for invitee in team.shared:
        wait_for_appointment(invitee)
    return team


def notice(text):
    """The persistent "waiting for the others" notices of the Connections page (D4)."""
    return [m.strip() for m in re.findall(r'<div class="notice notice-waiting" role="status">.*?<span>([^<]*)</span>',
                                          text, re.S)]


def sign_in_as(client, auth, email):
    auth.logout()
    auth.login(email)


WAITING = ("Team intake is a shared calendar: its 2 events stay visible until the 1 other member who "
           "connected it also chooses Delete.")
# After the other member chose Keep, nothing is waiting for them: Keep keeps the events (issue 16).
KEPT = "Team intake is a shared calendar: its 2 events stay in Calbridge, because the 1 other member who connected it chose Keep."


def test_question_warns_that_shared_events_need_every_member(both_connected, client, auth):
    team = both_connected
    sign_in_as(client, auth, "ann@acme.test")
    question = save_edit(client, team.ann_conn, [team.cleaning], step="choose").get_data(as_text=True)
    assert "Team intake · 2 events" in question
    assert "Shared calendar: its events are deleted only once every member who connected it has chosen" in question
    assert "1 other member still has it selected or chose Keep" in question


def test_deleted_only_once_the_last_member_chooses_delete(both_connected, client, auth):
    team = both_connected
    sign_in_as(client, auth, "ann@acme.test")
    save_edit(client, team.ann_conn, [team.cleaning], [(team.intake, "delete")])
    text = page(client)
    assert ("success", "Team intake removed.") in flashes(text) and notice(text) == [WAITING]
    # The message stays on the Connections page while Ann waits for Bob.
    assert notice(page(client)) == [WAITING]
    time.sleep(1)
    assert count(team.intake) == 2 and not Task.select().exists()  # still visible: Bob has it selected

    sign_in_as(client, auth, "bob@acme.test")
    assert "stay visible until" not in page(client)  # Bob chose nothing yet
    save_edit(client, team.bob_conn, [team.consult], [(team.intake, "delete")])
    assert ("success", "Team intake removed. Its 2 events are deleted in batches: Deletions below shows the progress.") in flashes(page(client))
    wait_for(lambda: count(team.intake) == 0, timeout=20, message="the shared calendar's purge")

    sign_in_as(client, auth, "ann@acme.test")
    assert "stay visible until" not in page(client)
    entries = {(e.actor_id, e.action) for e in AuditEntry.select().where(AuditEntry.target == "Team intake")}
    assert {(team.ann.id, "calendar.delete"), (team.bob.id, "calendar.delete"),
            (team.bob.id, "calendar.purged")} <= entries


def test_one_member_choosing_keep_keeps_shared_events_for_good(both_connected, client, auth):
    team = both_connected
    sign_in_as(client, auth, "bob@acme.test")
    save_edit(client, team.bob_conn, [team.consult], [(team.intake, "keep")])
    sign_in_as(client, auth, "ann@acme.test")
    save_edit(client, team.ann_conn, [team.cleaning], [(team.intake, "delete")])
    assert notice(page(client)) == [KEPT]
    time.sleep(1)
    assert count(team.intake) == 2 and not Task.select().exists()
    # Even Ann disconnecting with Delete does not change Bob's Keep.
    client.post(f"{INDEX}/{team.ann_conn.id}/disconnect", data={"answer": "delete"}, headers={"HX-Request": "true"})
    time.sleep(1)
    assert count(team.intake) == 2
    assert notice(page(client)) == [KEPT]  # Ann, now without a connection, still sees why they stay
