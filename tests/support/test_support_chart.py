"""The imports-per-hour chart: buckets from the database, bars in the SVG (SPEC S2)."""
from datetime import datetime, timedelta

from portal.extensions import db
from portal.models import Outcome, SkipReason
from portal.support.chart import HEIGHT, LEFT, TOP, WIDTH, hourly_bars
from portal.support.timeline import HOURS, imports_per_hour


def test_imports_are_counted_per_hour_over_the_last_7_days(build):
    alice = build.connection("alice@acme.test")
    now = datetime(2026, 1, 10, 14, 25)
    build.now = now
    build.decision(alice, ago=timedelta(minutes=5))  # the current hour (14:00)
    build.decision(alice, ago=timedelta(minutes=20))  # 14:05: same hour
    build.decision(alice, ago=timedelta(minutes=30))  # 13:55: the hour before
    build.decision(alice, ago=timedelta(days=6, hours=23))  # 15:25, 7 days back less an hour: first slot
    build.decision(alice, ago=timedelta(days=8))  # too old
    build.decision(alice, Outcome.SKIPPED, SkipReason.NOT_SELECTED, "W1", ago=timedelta(minutes=1))  # not an import
    with db.connection_context():
        first_hour, counts = imports_per_hour(alice, now)
    assert len(counts) == HOURS == 168
    assert first_hour == datetime(2026, 1, 3, 15)
    assert counts[-1] == 2 and counts[-2] == 1 and counts[0] == 1
    assert sum(counts) == 4


def test_bars_scale_to_a_round_ceiling_and_days_are_labelled():
    first = datetime(2026, 1, 3, 15)
    counts = [0] * 168
    counts[10], counts[100] = 3, 7
    chart = hourly_bars(first, counts)
    assert (chart.width, chart.height, chart.total, chart.peak) == (WIDTH, HEIGHT, 10, 7)
    assert [label for _, label in chart.gridlines] == ["0", "5", "10"]
    tallest = chart.bars[100]
    assert tallest.height == round((chart.plot_bottom - TOP) * 7 / 10, 2)
    assert tallest.y + tallest.height == chart.plot_bottom
    assert tallest.label == "Wed 07 Jan, 19:00–20:00 UTC: 7 imported"
    assert chart.bars[0].x == LEFT
    assert [label for _, label in chart.days] == ["Sun 04", "Mon 05", "Tue 06", "Wed 07", "Thu 08", "Fri 09",
                                                  "Sat 10"]
    # A midnight in the last hours would put its label past the right edge: it is left out.
    late = hourly_bars(datetime(2026, 1, 3, 2), counts)
    assert late.days[-1][1] == "Fri 09" and all(x + 44 <= WIDTH for x, _ in late.days)
    assert chart.summary == "10 bookings imported in the last 7 days; busiest hour: 7."


def test_an_empty_week_says_so():
    chart = hourly_bars(datetime(2026, 1, 3, 15), [0] * 168)
    assert chart.total == 0 and all(b.height == 0 for b in chart.bars)
    assert chart.summary == "No bookings imported in the last 7 days."
