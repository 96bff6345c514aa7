"""Edit the calendar selection (SPEC D1, D2, W3, W4, D5) over HTTP, with the sandbox and the RQ worker."""
import re
import time
from datetime import timedelta

import pytest
from rq.job import Job

from jobs.sync import reconcile_connection

from sync.helpers import wait_for

from portal.models import (
    AppointmentSource,
    AuditEntry,
    CalendarSelection,
    CalendlyConnection,
    Contact,
    SyncDecision,
)
from portal.queues import get_redis
from portal.timeutil import utcnow

from deletion_helpers import (
    appointment,
    count,
    edit_url,
    flashes,
    page,
    save_edit,
    wait_for_appointment,
)

pytestmark = pytest.mark.slow


@pytest.fixture
def ann_connected(team, auth, worker):
    """Ann's Calendly connected with Cleaning and Team intake, two Cleaning bookings imported."""
    team.booked = [team.book(team.cleaning), team.book(team.cleaning)]
    team.conn = team.connect(team.ann, "ann@cal.test", ["Cleaning", "Team intake"])
    for invitee in team.booked:
        assert appointment(invitee) is not None
    auth.login("ann@acme.test")
    return team


def caught_up(conn):
    """The Save queued ``reconcile-<id>``; run a reconciliation in-process as well (idempotent, W6)."""
    job = Job.fetch(f"reconcile-{conn.id}", connection=get_redis())
    assert job.func_name == "jobs.sync.reconcile_connection"
    reconcile_connection(conn.id)
    return True


def last_decision(invitee_uri):
    return SyncDecision.select().where(SyncDecision.invitee_uri == invitee_uri).order_by(SyncDecision.id.desc()).first()


def periods(conn, event_type):
    return list(CalendarSelection.select().where(
        (CalendarSelection.connection == conn.id) & (CalendarSelection.event_type_uri == event_type["uri"])
    ).order_by(CalendarSelection.selected_from))


def test_edit_opens_the_selection_with_the_current_choice(ann_connected, client):
    team = ann_connected
    fragment = client.get(edit_url(team.conn), headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "<html" not in fragment and "Edit imported calendars" in fragment
    ticked = dict(re_options(fragment))
    assert ticked == {"Cleaning": True, "Whitening": False, "Team intake": True}
    assert 'name="consent"' not in fragment  # consent was given at the first Save
    # The Connections row carries the Edit button that opens it.
    assert 'aria-label="Edit"' in page(client) and f'hx-get="{edit_url(team.conn)}"' in page(client)


def re_options(fragment):
    for m in re.finditer(r'<input type="checkbox" id="calendar-\d+" name="event_type" value="[^"]+" ?(checked)?>\s*'
                         r'<label for="calendar-\d+">([^<]+)</label>', fragment):
        yield m.group(2), bool(m.group(1))


def test_adding_a_calendar_imports_only_bookings_made_after(ann_connected, client):
    team = ann_connected
    before = team.book(team.whitening)  # upcoming, but made before Whitening was added (W3)
    began = utcnow()
    resp = save_edit(client, team.conn, [team.cleaning, team.whitening, team.intake])
    assert resp.status_code == 200 and resp.headers["HX-Redirect"].endswith("/calendars/settings/connections")
    assert ("success", "Now importing Whitening: bookings made from now on are imported, earlier ones are not.") \
        in flashes(page(client))

    (period,) = periods(team.conn, team.whitening)
    assert period.selected_from >= began and period.includes_backfill is False and period.selected_until is None
    # The Save queued a reconciliation; run one here too, so the test does not wait on the worker's queue.
    assert caught_up(team.conn)
    decision = last_decision(before)  # the webhook's or the reconciliation's, whichever judged it last
    assert decision.rule == "W3" and appointment(before) is None
    after = team.book(team.whitening)
    assert wait_for_appointment(after).calendar_name == "Whitening"
    assert AuditEntry.get(AuditEntry.action == "calendar.add").target == "Whitening"


def test_removing_a_calendar_asks_keep_or_delete_with_the_count(ann_connected, client):
    team = ann_connected
    calendars = [team.intake]
    resp = save_edit(client, team.conn, calendars, step="choose")
    question = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "Remove Cleaning" in question
    assert "Delete all events synced from this calendar?" in question and "Cleaning · 2 events" in question
    assert ">Keep</label>" in question and ">Delete permanently</label>" in question
    assert len(periods(team.conn, team.cleaning)) == 1 and periods(team.conn, team.cleaning)[0].selected_until is None

    # Saving without an answer loses nothing and says what is missing.
    resp = save_edit(client, team.conn, calendars)
    assert resp.status_code == 422
    assert "Choose Keep or Delete permanently for Cleaning." in resp.get_data(as_text=True)
    assert periods(team.conn, team.cleaning)[0].selected_until is None

    # Back returns to the selection with the new choice still ticked.
    back = save_edit(client, team.conn, calendars, step="back").get_data(as_text=True)
    assert dict(re_options(back)) == {"Cleaning": False, "Whitening": False, "Team intake": True}


def test_keep_leaves_the_appointments_and_records_the_choice(ann_connected, client):
    team = ann_connected
    resp = save_edit(client, team.conn, [team.intake], [(team.cleaning, "keep")])
    assert resp.status_code == 200 and "HX-Redirect" in resp.headers
    assert ("success", "Cleaning removed. Its 2 events stay in Calbridge.") in flashes(page(client))
    (period,) = periods(team.conn, team.cleaning)
    assert period.selected_until is not None and period.ended_with == "keep"
    assert count(team.cleaning) == 2
    assert {s.deletion_vote for s in AppointmentSource.select()} == {"keep"}
    entry = AuditEntry.get(AuditEntry.action == "calendar.keep")
    assert (entry.actor_id, entry.target, entry.count) == (team.ann.id, "Cleaning", 2)
    # The row now lists Team intake only.
    text = page(client)
    assert "Team intake" in text and "<li>Cleaning" not in text


def test_delete_runs_as_a_job_keeps_contacts_and_reassigns_them(ann_connected, client):
    team = ann_connected
    # Carol booked Bob's Consult first, then Ann's Cleaning: she is assigned to Ann (O3, latest booking).
    team.connect(team.bob, "bob@cal.test", ["Consult"])
    consult = team.book(team.consult, email="carol@example.com")
    wait_for_appointment(consult)
    cleaning = team.book(team.cleaning, email="carol@example.com")
    wait_for_appointment(cleaning)
    carol = Contact.get(Contact.email_normalized == "carol@example.com")
    assert carol.assigned_user_id == team.ann.id
    contacts = Contact.select().count()

    resp = save_edit(client, team.conn, [team.intake], [(team.cleaning, "delete")])
    assert resp.status_code == 200
    assert ("success", "Cleaning removed. Its 3 events are deleted in batches: Deletions below shows the progress.") in flashes(page(client))
    wait_for(lambda: count(team.cleaning) == 0, timeout=20, message="the purge job")
    assert appointment(consult) is not None
    assert Contact.select().count() == contacts  # D5: contacts stay
    assert Contact.get_by_id(carol.id).assigned_user_id == team.bob.id  # O3 recomputed
    delete = AuditEntry.get(AuditEntry.action == "calendar.delete")
    purged = wait_for(lambda: AuditEntry.get_or_none(AuditEntry.action == "calendar.purged"), message="audit")
    assert (delete.actor_id, delete.target, delete.count) == (team.ann.id, "Cleaning", 3)
    assert (purged.actor_id, purged.target, purged.count) == (team.ann.id, "Cleaning", 3)


@pytest.mark.parametrize("answer", ["keep", "delete"])
def test_reselecting_restores_coverage_after_keep_but_not_after_delete(ann_connected, client, answer):
    """W4 through the Edit modal: book while selected (webhook lost), while deselected, then reselect."""
    team = ann_connected
    imported = team.booked[0]
    team.sandbox.faults(webhook_drop_rate=1)
    missed = team.book(team.cleaning)  # made while selected; its webhook is lost
    save_edit(client, team.conn, [team.intake], [(team.cleaning, answer)])
    if answer == "delete":
        wait_for(lambda: count(team.cleaning) == 0, timeout=20, message="the purge job")
    gap = team.book(team.cleaning)  # made while Cleaning was not selected: never imported
    team.sandbox.clear_faults()

    resp = save_edit(client, team.conn, [team.intake, team.cleaning])
    expected = ("Cleaning selected again: its earlier coverage is restored." if answer == "keep" else
                "Now importing Cleaning: bookings made from now on are imported, earlier ones are not.")
    assert resp.status_code == 200 and ("success", expected) in flashes(page(client))
    # The reconciliation queued by the Save judges the missed and the gap bookings again.
    assert caught_up(team.conn)
    assert appointment(gap) is None and last_decision(gap).outcome == "skipped"
    if answer == "keep":
        assert appointment(missed) is not None and appointment(imported) is not None
    else:
        assert appointment(missed) is None and appointment(imported) is None
        assert last_decision(missed).rule == "W4"
        last = last_decision(imported)
        assert last.rule == "W4" and last.via == "reconcile"
    after = team.book(team.cleaning)
    wait_for_appointment(after)


@pytest.mark.parametrize("answer", ["keep", "delete"])
def test_bookings_created_in_the_window_or_the_gap_but_arriving_after_reselecting_are_judged_by_creation_time(
        ann_connected, client, answer):
    """W4 for bookings whose webhook arrives after the reselection but whose Calendly creation time is
    earlier: in the backfill window, or during the gap (the sandbox books them with a past ``created_at``)."""
    team = ann_connected
    save_edit(client, team.conn, [team.intake], [(team.cleaning, answer)])
    removed_at = utcnow()
    time.sleep(0.3)
    reselected_from = utcnow()
    save_edit(client, team.conn, [team.intake, team.cleaning])
    in_window = team.book(team.cleaning, created_at=team.conn.connected_at - timedelta(days=20))
    in_gap = team.book(team.cleaning, created_at=removed_at + (reselected_from - removed_at) / 2)
    caught_up(team.conn)  # the Save's own reconciliation may have listed the events before these bookings
    decided = {}
    for invitee in (in_window, in_gap):
        decided[invitee] = wait_for(lambda: SyncDecision.select().where(SyncDecision.invitee_uri == invitee).order_by(
            SyncDecision.id.desc()).first(), timeout=15, message="the late delivery's decision")
    assert appointment(in_gap) is None and decided[in_gap].rule == "W4"
    if answer == "keep":  # the original coverage (W2's backfill window) is back
        assert appointment(in_window) is not None and decided[in_window].rule == "W2"
    else:  # Delete: only what is created after the new selection
        assert appointment(in_window) is None and decided[in_window].rule == "W4"


def test_edit_of_a_connection_being_disconnected_elsewhere_is_404(ann_connected, client):
    team = ann_connected
    CalendlyConnection.update(status="disconnected").where(CalendlyConnection.id == team.conn.id).execute()
    assert client.get(edit_url(team.conn)).status_code == 404


def test_unticking_every_calendar_offers_disconnect_instead_of_an_error(ann_connected, client):
    team = ann_connected
    resp = save_edit(client, team.conn, [], step="choose")
    offer = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "Disconnect Calendly" in offer
    assert "No calendar is ticked any more. To stop importing from Calendly, disconnect it." in offer
    # Cleaning has 2 events and is asked about; Team intake imported nothing and is not.
    assert "All events synced from Calendly (2 events)" in offer
    assert "Nothing was imported from <strong>Team intake</strong>, so there is nothing to keep or delete there." in offer
    assert ">Back</a>" in offer and "error" not in offer
    assert CalendlyConnection.get_by_id(team.conn.id).status == "connected"
    assert all(p.selected_until is None for p in periods(team.conn, team.cleaning))


def test_removing_a_calendar_with_no_events_asks_nothing(ann_connected, client):
    team = ann_connected
    resp = save_edit(client, team.conn, [team.cleaning], step="choose")
    assert resp.status_code == 200 and "HX-Redirect" in resp.headers
    assert ("success", "Team intake removed. It had no imported events.") in flashes(page(client))
    (period,) = periods(team.conn, team.intake)
    assert period.selected_until is not None and period.ended_with == "keep"
    assert count(team.cleaning) == 2
