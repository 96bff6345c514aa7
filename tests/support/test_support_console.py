"""The console list, the connection page and the health JSON (SPEC S1, S2)."""
import re
from datetime import timedelta

from portal.models import DeliveryState, Outcome, SkipReason

from .console_helpers import table_rows, text_of


def _row_for(html, needle):
    rows = [r for r in table_rows(html) if any(needle in cell for cell in r)]
    assert len(rows) == 1, f"expected one row with {needle!r}, got {rows}"
    return rows[0]


def _figures(build):
    """Two subaccounts; Alice's connection has decisions across 24 h, 7 days and older."""
    alice = build.connection("alice@acme.test", "Acme Dental", calendly_email="alice@calendly.test")
    build.calendar(alice, "Intro call")
    build.calendar(alice, "Team demo", shared=True, pooling_type="round_robin")
    h = timedelta(hours=1)
    for ago in (1 * h, 2 * h, 20 * h):
        build.decision(alice, ago=ago)
    for ago in (30 * h, 100 * h):
        build.decision(alice, ago=ago)
    build.decision(alice, ago=10 * 24 * h)  # older than 7 days: not counted
    build.decision(alice, Outcome.SKIPPED, SkipReason.NOT_SELECTED, "W1", ago=3 * h)
    build.decision(alice, Outcome.SKIPPED, SkipReason.NOT_SELECTED, "W1", ago=50 * h)
    build.decision(alice, Outcome.SKIPPED, SkipReason.OUTSIDE_WINDOW, "W4", ago=120 * h)
    build.decision(alice, Outcome.SKIPPED, SkipReason.DUPLICATE, "W6", ago=5 * h)
    build.delivery(alice, DeliveryState.RECEIVED, ago=timedelta(minutes=12))
    build.delivery(alice, DeliveryState.QUEUED, ago=timedelta(minutes=2))
    build.delivery(alice, DeliveryState.FAILED, ago=timedelta(hours=2), error="TransientError: Calendly 503")
    build.delivery(alice, DeliveryState.APPLIED, ago=timedelta(hours=30))

    bob = build.connection("bob@bright.test", "Bright Smiles", calendly_email="bob@calendly.test",
                           status="reconnect_needed", last_error="Refresh token refused (invalid_grant)")
    build.decision(bob, ago=timedelta(days=2))
    carol = build.connection("carol@bright.test", "Bright Smiles", calendly_email="carol@calendly.test",
                             status="importing", backfill_total=40, backfill_done=10)
    return alice, bob, carol


def test_list_shows_every_subaccounts_connections_with_24h_and_7d_counts(build, support_client):
    _figures(build)
    resp = support_client.get("/support/")
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    assert "3 connections" in text_of(html)

    alice = _row_for(html, "alice@acme.test")
    who, status, calendars, sync, backlog, bookings = alice
    assert who == "Acme Dental alice@acme.test alice@calendly.test · Professional"
    assert status == "Connected"
    assert calendars == "2 selected Intro call, Team demo"
    assert sync == "Active Last webhook 2 min ago Reconciled never"
    assert backlog.startswith("2 pending oldest 12 min ago") and "1 failed" in backlog
    # Last 24 hours beside last 7 days; the decision of 10 days ago is in neither.
    assert bookings == "24 h 7 d Imported 3 5 Not selected 1 2 Outside window 0 1 Duplicate 1 1"

    bob = _row_for(html, "bob@bright.test")
    assert bob[0] == "Bright Smiles bob@bright.test bob@calendly.test · Professional"
    assert bob[1] == "Reconnect needed Refresh token refused (invalid_grant)"
    assert bob[3] == "Active Last webhook none yet Reconciled never"
    assert bob[5] == "24 h 7 d Imported 0 1 Skipped 0 0"
    carol = _row_for(html, "carol@bright.test")
    assert carol[1] == "Importing 10 / 40"


def test_filter_by_status_and_search_by_subaccount_user_or_calendly_email(build, support_client):
    _figures(build)

    def owners(query):
        html = support_client.get("/support/?" + query).get_data(as_text=True)
        return sorted(re.search(r"\S+@\S+", cell).group() for cell, *_ in table_rows(html))

    assert owners("status=reconnect_needed") == ["bob@bright.test"]
    assert owners("status=connected") == ["alice@acme.test"]
    assert owners("q=bright+smiles") == ["bob@bright.test", "carol@bright.test"]
    assert owners("q=ALICE@acme.test") == ["alice@acme.test"]
    assert owners("q=carol@calendly") == ["carol@bright.test"]
    assert owners("q=bright&status=importing") == ["carol@bright.test"]
    # An unknown status is ignored rather than hiding everything.
    assert len(owners("status=bogus")) == 3

    html = support_client.get("/support/?q=nobody-here").get_data(as_text=True)
    assert "No connection matches these filters" in html


def test_status_chips_count_connections_per_status(build, support_client):
    _figures(build)
    text = text_of(support_client.get("/support/").get_data(as_text=True))
    assert "All 3" in text and "Connected 1" in text and "Reconnect needed 1" in text and "Importing 1" in text


def test_htmx_filter_returns_only_the_table(build, support_client):
    _figures(build)
    resp = support_client.get("/support/?q=acme", headers={"HX-Request": "true"})
    html = resp.get_data(as_text=True)
    assert html.lstrip().startswith('<section id="connections"')
    assert "alice@acme.test" in html and "bob@bright.test" not in html


def test_list_is_empty_with_an_explanation(support_client):
    html = support_client.get("/support/").get_data(as_text=True)
    assert "No subaccount has connected Calendly yet" in html


def test_health_json_has_the_same_figures(build, support_client):
    alice, bob, _ = _figures(build)
    data = support_client.get("/support/api/connections").get_json()
    assert set(data) >= {"generated_at", "queues", "inbox", "status_counts", "connections"}
    assert set(data["queues"]) == {"sync", "default", "bulk"}
    assert data["queues"]["sync"] == {"depth": 0, "failed": 0, "running": 0}
    assert data["inbox"] == {"received": 1, "queued": 1, "failed": 1}
    assert data["status_counts"] == {"connected": 1, "reconnect_needed": 1, "importing": 1}

    by_owner = {c["owner"]["email"]: c for c in data["connections"]}
    a = by_owner["alice@acme.test"]
    assert a["id"] == alice.id
    assert a["subaccount"]["name"] == "Acme Dental"
    assert a["calendly"]["email"] == "alice@calendly.test" and a["calendly"]["plan"] == "professional"
    assert a["status"] == "connected" and a["status_label"] == "Connected"
    assert [c["name"] for c in a["selected_calendars"]] == ["Intro call", "Team demo"]
    assert a["webhook"]["state"] == "active"
    assert a["webhook"]["subscription_uri"] == alice.webhook_subscription_uri
    assert 100 <= a["webhook"]["last_received_age_seconds"] <= 200
    assert a["last_reconciled_at"] is None
    assert a["backlog"]["inbox_pending"] == 2 and a["backlog"]["inbox_failed"] == 1
    assert a["bookings"]["24h"]["imported"] == 3
    assert a["bookings"]["7d"]["imported"] == 5
    assert a["bookings"]["24h"]["skipped"]["calendar_not_selected"] == 1
    assert a["bookings"]["7d"]["skipped"] == {
        "calendar_not_selected": 2, "outside_sync_window": 1, "duplicate": 1, "plan": 0, "error": 0,
        "disconnected": 0,
    }
    assert a["bookings"]["7d"]["skipped_total"] == 4
    assert by_owner["bob@bright.test"]["last_error"] == "Refresh token refused (invalid_grant)"

    only = support_client.get("/support/api/connections?status=importing").get_json()
    assert [c["owner"]["email"] for c in only["connections"]] == ["carol@bright.test"]


def test_connection_page_shows_figures_timeline_and_chart(build, support_client):
    alice, _, _ = _figures(build)
    build.decision(alice, Outcome.SKIPPED, SkipReason.OUTSIDE_WINDOW, "W4",
                   detail="W4: created while the calendar was deselected", email="late@example.com",
                   ago=timedelta(minutes=1))
    resp = support_client.get(f"/support/connections/{alice.id}")
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    text = text_of(html)
    assert "alice@acme.test" in text and "Acme Dental" in text and "alice@calendly.test" in text
    assert "Resync now" in text
    rows = {r[0]: r[1:] for r in table_rows(html) if len(r) == 3}
    assert rows["Imported"] == ["3", "5"]
    assert rows["Skipped: Calendar not selected"] == ["1", "2"]
    assert rows["Skipped: Outside sync window"] == ["1", "2"]
    # The timeline: newest first, the rule id beside the detail.
    timeline = [r for r in table_rows(html) if len(r) == 5]
    first = timeline[0]
    assert first[1] == "Decision via webhook"
    assert "late@example.com" in first[2]
    assert first[3] == "Skipped Outside sync window"
    assert first[4] == "W4 created while the calendar was deselected"
    assert any(r[1].startswith("Webhook received invitee.created") and r[3] == "Failed" for r in timeline)
    # The chart: an SVG with one bar per busy hour and its total in words.
    assert '<svg viewBox="0 0 760 170" role="img"' in html
    assert html.count('class="sc-bar"') == 5
    assert "5 bookings imported in the last 7 days" in text


def test_connection_page_of_an_unknown_connection_is_404(support_client):
    assert support_client.get("/support/connections/999999").status_code == 404
