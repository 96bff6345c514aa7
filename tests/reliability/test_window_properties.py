"""Property-based tests of the sync windows (SPEC W1-W5) against a reference model.

``reference_import`` below is written from SPEC.md's wording alone, not from
``portal.sync.windows``; Hypothesis draws selection histories (first Save,
calendars added later, removed with Keep or Delete, selected again) and
bookings around every boundary, and ``decide`` must agree with the model.

Where the SPEC leaves an instant undefined (a booking created in the very
second a calendar was added), the bookings are drawn one second either side.
"""
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from portal.sync.windows import decide
from sync.helpers import booking

pytestmark = pytest.mark.reliability

OURS = "https://api.calendly.com/event_types/OURS"
OTHER = "https://api.calendly.com/event_types/OTHER"
NEVER = "https://api.calendly.com/event_types/NEVER-SELECTED"
CONNECTED = datetime(2030, 1, 1, 12, 0, 0)
SECOND = timedelta(seconds=1)


@dataclass
class Period:
    """One stretch of time a calendar was selected, shaped like a ``CalendarSelection`` row."""

    event_type_uri: str
    selected_from: datetime
    selected_until: datetime | None = None
    ended_with: str | None = None
    includes_backfill: bool = False
    id: int = 0


# ---------------------------------------------------------------- the model (SPEC W1-W5, read afresh)
def reference_import(created, start, periods, connected_at, backfill_days):
    """Would the SPEC import a booking created at ``created`` starting at ``start``?

    - W1: only a calendar that has been selected can import anything.
    - W4 Delete: a removal with Delete wipes the calendar's history; only
      what happened after it counts. W4 Keep: a removal with Keep wipes
      nothing; the calendar keeps every stretch it was selected.
    - W1/W3/W4: a booking created while the calendar was selected is imported;
      one created while it was not selected never is.
    - W2: a calendar chosen at the first Save also brings the events that
      existed then: created within ``backfill_days`` before connecting, or
      still upcoming then; 0 days means strictly nothing from before.
      A calendar added later (W3) or selected again after a Delete (W4)
      brings nothing from before.
    - W5: a new connection is judged by its own periods and connection time.
    """
    history = sorted(periods, key=lambda p: p.selected_from)
    for i in range(len(history) - 1, -1, -1):
        if history[i].ended_with == "delete":
            history = history[i + 1:]
            break
    if not history:
        return False
    for p in history:
        if p.selected_from <= created and (p.selected_until is None or created < p.selected_until):
            return True
    chosen_at_first_save = history[0].selected_from == connected_at and history[0].includes_backfill
    if chosen_at_first_save and backfill_days > 0 and created < connected_at:
        within = created >= connected_at - timedelta(days=backfill_days)
        upcoming = start >= connected_at
        return within or upcoming
    return False


# ---------------------------------------------------------------- strategies
@st.composite
def histories(draw, event_type_uri=OURS):
    """The periods of one calendar: maybe chosen at the first Save, then toggled a few times."""
    periods = []
    at = CONNECTED
    selected = draw(st.booleans())
    if selected:
        periods.append(Period(event_type_uri, at, includes_backfill=True))
    else:
        at += timedelta(minutes=draw(st.integers(0, 60 * 24 * 60)))  # not chosen at the first Save
    for _ in range(draw(st.integers(0, 6))):
        at += timedelta(minutes=draw(st.integers(1, 60 * 24 * 45)))
        if selected:
            periods[-1].selected_until = at
            periods[-1].ended_with = draw(st.sampled_from(["keep", "delete"]))
        else:
            periods.append(Period(event_type_uri, at))
        selected = not selected
    for n, p in enumerate(periods, start=1):
        p.id = n
    return periods


@st.composite
def scenarios(draw):
    days = draw(st.sampled_from([0, 1, 30, 180]))
    ours = draw(histories())
    noise = draw(histories(OTHER))
    event_type = draw(st.sampled_from([OURS, OURS, OURS, NEVER]))
    marks = [CONNECTED, CONNECTED - timedelta(days=days)]
    marks += [p.selected_from for p in ours] + [p.selected_until for p in ours if p.selected_until]
    created = draw(st.one_of(
        st.sampled_from(marks).flatmap(lambda m: st.sampled_from([m - SECOND, m + SECOND])),
        st.integers(-400 * 24 * 60, 400 * 24 * 60).map(lambda m: CONNECTED + timedelta(minutes=m)),
    ))
    starts = [st.integers(1, 200 * 24 * 60).map(lambda m: created + timedelta(minutes=m))]
    if created < CONNECTED - SECOND:
        starts.append(st.sampled_from([CONNECTED - SECOND, CONNECTED + SECOND]))
    start = draw(st.one_of(*starts))
    return days, ours, noise, event_type, created, start


# ---------------------------------------------------------------- properties
@settings(max_examples=1500, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios(), st.randoms(use_true_random=False))
def test_decide_agrees_with_the_spec_model(scenario, rnd):
    days, ours, noise, event_type, created, start = scenario
    b = booking(event_type, created_at=created, start=start)
    rows = ours + noise
    rnd.shuffle(rows)  # the order rows come from the database in must not matter
    expected = reference_import(created, start, [p for p in ours if p.event_type_uri == event_type],
                                CONNECTED, days)
    got = decide(b, rows, CONNECTED, days)
    assert got.import_ is expected, (got, [(p.selected_from, p.selected_until, p.ended_with) for p in ours])
    if not got.import_:
        assert got.reason and got.rule in {"W1", "W2", "W3", "W4"}


def test_reconnecting_is_a_new_connection_with_its_own_backfill():
    """W5: the second connection's backfill is measured from its own connection time."""
    again = CONNECTED + timedelta(days=400)
    first = [Period(OURS, CONNECTED, again - timedelta(days=1), "keep", True, 1)]
    second = [Period(OURS, again, includes_backfill=True, id=2)]
    cases = {
        "in the first backfill, long before the second": (CONNECTED - timedelta(days=10), False),
        "in the second backfill, while the first had it deselected": (again - timedelta(hours=12), True),
        "in the second backfill window": (again - timedelta(days=100), True),
    }
    for name, (created, imported) in cases.items():
        start = created + timedelta(hours=1)
        assert decide(booking(OURS, created_at=created, start=start), second, again, 180).import_ is imported, name
        assert reference_import(created, start, second, again, 180) is imported, name
    # The first connection keeps judging by its own history.
    old = CONNECTED - timedelta(days=10)
    assert decide(booking(OURS, created_at=old, start=old + timedelta(hours=1)), first, CONNECTED, 180).import_


def test_the_model_itself_reads_the_spec_examples():
    """The reference model on the SPEC's own sentences (guards the guard)."""
    days = 180
    t = CONNECTED
    added_later = [Period(OURS, t + timedelta(days=3))]
    assert not reference_import(t + timedelta(days=2), t + timedelta(days=9), added_later, t, days)  # W3
    assert reference_import(t + timedelta(days=4), t + timedelta(days=9), added_later, t, days)
    kept = [Period(OURS, t, t + timedelta(days=1), "keep", True), Period(OURS, t + timedelta(days=2))]
    assert reference_import(t - timedelta(days=100), t - timedelta(days=90), kept, t, days)  # W4 Keep: window back
    assert not reference_import(t + timedelta(days=1, hours=1), t + timedelta(days=5), kept, t, days)  # deselected
    deleted = [Period(OURS, t, t + timedelta(days=1), "delete", True), Period(OURS, t + timedelta(days=2))]
    assert not reference_import(t - timedelta(days=100), t + timedelta(days=9), deleted, t, days)  # W4 Delete
    assert reference_import(t - timedelta(days=400), t + timedelta(days=1), [Period(OURS, t, None, None, True)],
                            t, days)  # W2 upcoming
    assert not reference_import(t - timedelta(days=1), t + timedelta(days=1), [Period(OURS, t, None, None, True)],
                                t, 0)  # W2 with 0 days: strictly after setup
