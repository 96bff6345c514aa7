"""SPEC W1-W5: which bookings a connection imports, judged by creation time."""
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pytest

from portal.models import SkipReason, Status
from portal.sync.booking import Booking
from portal.sync.windows import decide, status_gate

ET = "https://api.calendly.com/event_types/CLEANING"
OTHER = "https://api.calendly.com/event_types/OTHER"
CONNECTED = datetime(2025, 6, 1, 12, 0)
DAYS = 180


def day(n, hour=12):
    """``n`` days after connecting (negative: before)."""
    return CONNECTED + timedelta(days=n, hours=hour - 12)


@dataclass
class Period:
    selected_from: datetime
    selected_until: datetime | None = None
    ended_with: str | None = None
    includes_backfill: bool = False
    event_type_uri: str = ET
    id: int = field(default=0)


def booking(created, start=None, event_type=ET):
    start = start or created + timedelta(days=3)
    return Booking(
        invitee_uri="https://api.calendly.com/scheduled_events/E/invitees/I",
        event_uri="https://api.calendly.com/scheduled_events/E",
        event_type_uri=event_type, title="Cleaning", start=start, end=start + timedelta(minutes=30),
        name="Ada", email="ada@example.com", created_at=created,
    )


def first_save(until=None, ended_with=None):
    return Period(CONNECTED, until, ended_with, includes_backfill=True)


def check(decision, imported, rule, reason=None):
    assert decision.import_ is imported, decision
    assert decision.rule == rule, decision
    assert decision.reason == reason, decision
    assert decision.detail.startswith(f"{rule}: ")


# ---------------------------------------------------------------- W1
def test_w1_calendar_never_selected_is_skipped():
    d = decide(booking(day(1), event_type=OTHER), [first_save()], CONNECTED, DAYS)
    check(d, False, "W1", SkipReason.NOT_SELECTED)
    assert d.detail == "W1: calendar not selected"


def test_w1_no_selection_at_all():
    check(decide(booking(day(1)), [], CONNECTED, DAYS), False, "W1", SkipReason.NOT_SELECTED)


# ---------------------------------------------------------------- W2
def test_w2_booking_after_connecting_is_imported():
    check(decide(booking(day(2)), [first_save()], CONNECTED, DAYS), True, "W2")


def test_w2_created_within_backfill_window_is_imported_even_if_it_started_long_ago():
    # Created 100 days before connecting, started 150 days before: inside "created within 180 days".
    d = decide(booking(day(-100), start=day(-150)), [first_save()], CONNECTED, DAYS)
    check(d, True, "W2")
    assert "180 days" in d.detail


def test_w2_window_edge_is_inclusive_and_one_second_earlier_is_not():
    edge = CONNECTED - timedelta(days=DAYS)
    check(decide(booking(edge, start=day(-10)), [first_save()], CONNECTED, DAYS), True, "W2")
    d = decide(booking(edge - timedelta(seconds=1), start=day(-10)), [first_save()], CONNECTED, DAYS)
    check(d, False, "W2", SkipReason.OUTSIDE_WINDOW)


def test_w2_upcoming_event_created_before_the_window_is_imported():
    d = decide(booking(day(-400), start=day(5)), [first_save()], CONNECTED, DAYS)
    check(d, True, "W2")
    assert "upcoming" in d.detail


def test_w2_past_event_created_before_the_window_is_skipped():
    check(decide(booking(day(-200), start=day(-190)), [first_save()], CONNECTED, DAYS),
          False, "W2", SkipReason.OUTSIDE_WINDOW)


def test_w2_zero_days_is_strict_only_created_after_setup():
    check(decide(booking(day(-1), start=day(5)), [first_save()], CONNECTED, 0),
          False, "W2", SkipReason.OUTSIDE_WINDOW)
    check(decide(booking(day(0, 13)), [first_save()], CONNECTED, 0), True, "W2")


# ---------------------------------------------------------------- W3
def test_w3_calendar_added_later_has_no_history():
    added = Period(day(10))
    periods = [Period(CONNECTED, includes_backfill=True, event_type_uri=OTHER), added]
    check(decide(booking(day(9), start=day(20)), periods, CONNECTED, DAYS), False, "W3", SkipReason.OUTSIDE_WINDOW)
    check(decide(booking(day(-5)), periods, CONNECTED, DAYS), False, "W3", SkipReason.OUTSIDE_WINDOW)
    check(decide(booking(day(11)), periods, CONNECTED, DAYS), True, "W3")


# ---------------------------------------------------------------- W4
def test_w4_booking_made_while_deselected_is_never_imported():
    periods = [first_save(day(5), "keep"), Period(day(10))]
    d = decide(booking(day(7)), periods, CONNECTED, DAYS)
    check(d, False, "W4", SkipReason.OUTSIDE_WINDOW)
    assert d.detail == "W4: created while calendar deselected"


def test_w4_while_still_deselected_the_calendar_is_not_selected():
    periods = [first_save(day(5), "keep")]
    check(decide(booking(day(7)), periods, CONNECTED, DAYS), False, "W1", SkipReason.NOT_SELECTED)


def test_w4_keep_then_reselect_restores_backfill_and_old_periods():
    periods = [first_save(day(5), "keep"), Period(day(10))]
    check(decide(booking(day(-100), start=day(-150)), periods, CONNECTED, DAYS), True, "W2")
    check(decide(booking(day(-400), start=day(30)), periods, CONNECTED, DAYS), True, "W2")
    check(decide(booking(day(3)), periods, CONNECTED, DAYS), True, "W2")
    check(decide(booking(day(12)), periods, CONNECTED, DAYS), True, "W4")


def test_w4_a_booking_of_the_kept_period_arriving_late_is_imported():
    periods = [first_save(day(5), "keep")]
    check(decide(booking(day(3)), periods, CONNECTED, DAYS), True, "W2")


def test_w4_delete_then_reselect_only_counts_new_selection():
    periods = [first_save(day(5), "delete"), Period(day(10))]
    for created, start in ((day(-100), day(-150)), (day(-400), day(30)), (day(3), day(4))):
        check(decide(booking(created, start=start), periods, CONNECTED, DAYS), False, "W4", SkipReason.OUTSIDE_WINDOW)
    check(decide(booking(day(7)), periods, CONNECTED, DAYS), False, "W4", SkipReason.OUTSIDE_WINDOW)
    check(decide(booking(day(11)), periods, CONNECTED, DAYS), True, "W3")


def test_w4_delete_then_keep_history_counts_periods_after_the_delete_only():
    periods = [
        first_save(day(5), "delete"),
        Period(day(10), day(20), "keep"),
        Period(day(30)),
    ]
    check(decide(booking(day(3)), periods, CONNECTED, DAYS), False, "W4", SkipReason.OUTSIDE_WINDOW)
    check(decide(booking(day(15)), periods, CONNECTED, DAYS), True, "W3")  # restored (Keep)
    check(decide(booking(day(25)), periods, CONNECTED, DAYS), False, "W4", SkipReason.OUTSIDE_WINDOW)
    check(decide(booking(day(31)), periods, CONNECTED, DAYS), True, "W4")


def test_w4_removed_with_delete_and_not_reselected():
    periods = [first_save(day(5), "delete")]
    check(decide(booking(day(3)), periods, CONNECTED, DAYS), False, "W1", SkipReason.NOT_SELECTED)


# ---------------------------------------------------------------- W5 and status gate
def test_w5_a_new_connection_measures_backfill_from_its_own_connection_time():
    reconnected = CONNECTED + timedelta(days=300)
    periods = [Period(reconnected, includes_backfill=True)]
    check(decide(booking(day(200), start=day(210)), periods, reconnected, DAYS), True, "W2")
    check(decide(booking(day(100), start=day(110)), periods, reconnected, DAYS), False, "W2",
          SkipReason.OUTSIDE_WINDOW)


@pytest.mark.parametrize("status,reason", [
    (Status.PLAN_NOT_SUPPORTED, SkipReason.PLAN),
    (Status.RECONNECT_NEEDED, SkipReason.DISCONNECTED),
    (Status.DISCONNECTED, SkipReason.DISCONNECTED),
    (Status.PENDING, SkipReason.DISCONNECTED),
])
def test_status_gate_stops_connections_that_must_not_sync(status, reason):
    gate = status_gate(status)
    assert gate is not None and not gate.import_ and gate.reason == reason


@pytest.mark.parametrize("status", Status.SYNCING)
def test_status_gate_lets_syncing_connections_through(status):
    assert status_gate(status) is None
