"""The calendar's time grid (issue 16): where each appointment sits in the day, week and month views.

Pure layout, no queries: a day column has 96 quarter-hour rows and 60 lane
columns; an appointment gets the classes ``r-<first row>``, ``h-<rows>``,
``c-<first column>`` and ``w-<columns>`` that ``static/calendar.css`` (made by
``css()``) turns into CSS-grid placement. Classes, not style attributes,
because the Content-Security-Policy forbids inline styles. Times are laid
out on the local wall clock of the person's zone.
"""
from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import date, timedelta

from portal import localtime

SLOT_MINUTES = 15
SLOTS = 24 * 60 // SLOT_MINUTES  # 96 rows a day
COLUMNS = 60  # divides evenly into 1-6, 10 and 12 lanes
WEEK_LANES = 4  # side by side in a week column; more overlapping ones become "+N more"
DAY_LANES = 12
MONTH_SHOWN = 3  # appointments listed in a month cell before "+N more"
CANCELLED = ("cancelled", "rescheduled")  # struck through


@dataclass
class Placed:
    appointment: object
    row: int  # 1-based first grid row
    rows: int
    column: int = 1  # 1-based first grid column
    columns: int = COLUMNS
    lane: int = 0
    start_text: str = ""  # "9:00 AM": the local start
    times_text: str = ""  # "9:00 AM–9:30 AM"

    @property
    def classes(self):
        return f"r-{self.row} h-{self.rows} c-{self.column} w-{self.columns}"

    @property
    def cancelled(self):
        return self.appointment.status in CANCELLED

    @property
    def css(self):
        """Every class of the event's link: placement, source, cancelled, and size."""
        a = self.appointment
        size = " event-tiny" if self.rows < 2 else " event-short" if self.rows < 3 else ""
        source = "event-portal" if a.source == "portal" else "event-calendly"
        return f"event {self.classes} {source}{' cancelled' if self.cancelled else ''}{size}"

    @property
    def spoken(self):
        """What a screen reader hears after the title: ``9:00 AM–9:30 AM (Calendly, cancelled)``."""
        where = "created in the portal" if self.appointment.source == "portal" else "Calendly"
        return f"{self.times_text} ({where}{', cancelled' if self.cancelled else ''})"


@dataclass
class More:
    """Overlapping appointments beyond the lanes a column has room for."""
    row: int
    count: int
    column: int
    columns: int

    @property
    def classes(self):
        return f"r-{self.row} h-1 c-{self.column} w-{self.columns}"


@dataclass
class DayColumn:
    day: date
    placed: list = field(default_factory=list)
    more: list = field(default_factory=list)

    @property
    def appointments(self):
        return [p.appointment for p in self.placed]


def _slots(start, end, day):
    """``(first slot, slot count)`` of local ``start``–``end`` within local ``day`` (clipped at midnight)."""
    first = (start.hour * 60 + start.minute) // SLOT_MINUTES if start.date() == day else 0
    if end.date() > day:
        last = SLOTS
    else:
        last = -(-(end.hour * 60 + end.minute) // SLOT_MINUTES)  # ceiling
    return first, max(1, min(SLOTS, last) - first)


def lay_out_day(day, appointments, tz, max_lanes):
    """A ``DayColumn`` with each appointment in a lane; overlapping groups share the column's width."""
    column = DayColumn(day)
    spans, texts = [], {}
    for a in appointments:
        start = localtime.localize(a.start, tz)
        end = localtime.localize(a.end or a.start, tz)
        spans.append((*_slots(start, end, day), a))
        begins = localtime.clock_text(start, tz)
        texts[a.id] = (begins, f"{begins}–{localtime.clock_text(end, tz)}")
    spans.sort(key=lambda s: (s[0], -s[1], s[2].id))
    group, group_end = [], -1
    for first, count, a in spans + [(SLOTS + 1, 0, None)]:
        if group and first >= group_end:
            _place_group(column, group, max_lanes, texts)
            group, group_end = [], -1
        if a is None:
            break
        group.append((first, count, a))
        group_end = max(group_end, first + count)
    return column


def _place_group(column, group, max_lanes, texts):
    lane_ends = []  # the slot at which each lane is free again
    lanes = []
    for first, count, a in group:
        lane = next((i for i, free_at in enumerate(lane_ends) if free_at <= first), len(lane_ends))
        if lane == len(lane_ends):
            lane_ends.append(first + count)
        else:
            lane_ends[lane] = first + count
        lanes.append(lane)
    shown = min(len(lane_ends), max_lanes)
    width = COLUMNS // shown
    hidden = {}
    for (first, count, a), lane in zip(group, lanes):
        if lane >= shown or (len(lane_ends) > max_lanes and lane == shown - 1):
            hidden.setdefault(first, 0)
            hidden[first] += 1
            continue
        column.placed.append(Placed(a, row=first + 1, rows=count, column=lane * width + 1, columns=width,
                                    lane=lane, start_text=texts[a.id][0], times_text=texts[a.id][1]))
    for first, count in sorted(hidden.items()):
        column.more.append(More(row=first + 1, count=count, column=(shown - 1) * width + 1, columns=width))


def by_local_day(appointments, first_day, days, tz):
    """``{date: [appointments]}`` for the ``days`` local days from ``first_day`` (by local start).

    Each (naive UTC) start is sorted among the days' local midnights in UTC, which the
    zone's clock changes already move: a month's ~2,000 appointments need no conversion.
    """
    dates = [first_day + timedelta(days=i) for i in range(days)]
    out = {d: [] for d in dates}
    midnights = [localtime.local_midnight_utc(d, tz) for d in dates]
    midnights.append(localtime.local_midnight_utc(dates[-1] + timedelta(days=1), tz))
    for a in appointments:
        i = bisect_right(midnights, a.start) - 1
        if 0 <= i < days:
            out[dates[i]].append(a)
    return out


def month_weeks(month_first):
    """The Monday-to-Sunday weeks that cover the month of ``month_first``, as lists of dates."""
    start = month_first - timedelta(days=month_first.weekday())
    next_month = (month_first.replace(day=28) + timedelta(days=4)).replace(day=1)
    weeks = []
    while start < next_month:
        weeks.append([start + timedelta(days=i) for i in range(7)])
        start += timedelta(days=7)
    return weeks


def scroll_row(columns, default_hour=7):
    """The hour row a grid opens scrolled to: 7 AM, or the hour of an earlier first appointment."""
    rows = [p.row for c in columns for p in c.placed]
    hour = min([default_hour] + [(r - 1) * SLOT_MINUTES // 60 for r in rows])
    return hour * 60 // SLOT_MINUTES + 1


def hour_labels(tz):
    """``[(row, "9 AM")]`` / ``[(row, "09:00")]`` for the 24 hour lines of a day."""
    labels = []
    for hour in range(24):
        if localtime.twelve_hour(tz):
            text = "12 AM" if hour == 0 else "12 PM" if hour == 12 else f"{hour % 12} {'AM' if hour < 12 else 'PM'}"
        else:
            text = f"{hour:02d}:00"
        labels.append((hour * 60 // SLOT_MINUTES + 1, text))
    return labels


def css():
    """The placement classes of ``static/calendar.css`` (its generated half)."""
    lines = ["/* Generated by portal.appointments.grid.css(): grid placement classes (no inline styles: CSP). */"]
    lines += [f".tg-col > .r-{n} {{ grid-row-start: {n}; }}" for n in range(1, SLOTS + 1)]
    lines += [f".tg-col > .h-{n} {{ grid-row-end: span {n}; }}" for n in range(1, SLOTS + 1)]
    lines += [f".tg-col > .c-{n} {{ grid-column-start: {n}; }}" for n in range(1, COLUMNS + 1)]
    lines += [f".tg-col > .w-{n} {{ grid-column-end: span {n}; }}" for n in sorted({COLUMNS // k for k in range(1, DAY_LANES + 1)})]
    return "\n".join(lines) + "\n"
