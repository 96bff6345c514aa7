"""A small server-rendered bar chart: bookings imported per hour (SPEC S2).

``hourly_bars`` computes the geometry; ``templates/support/_chart.html``
draws it as inline SVG, so the chart needs no JavaScript.
"""
from dataclasses import dataclass, field
from datetime import timedelta

WIDTH, HEIGHT = 760, 170
LEFT, RIGHT, TOP, BOTTOM = 36, 8, 12, 26
DAY_LABEL_WIDTH = 44  # room a "Sat 21" label needs right of its midnight line


@dataclass
class Bar:
    x: float
    y: float
    width: float
    height: float
    count: int
    label: str  # the tooltip, e.g. "Tue 14 Jan, 14:00–15:00 UTC: 3 imported"


@dataclass
class Chart:
    width: int
    height: int
    plot_left: float
    plot_right: float
    plot_top: float
    plot_bottom: float
    total: int
    peak: int
    bars: list = field(default_factory=list)
    gridlines: list = field(default_factory=list)  # (y, label)
    days: list = field(default_factory=list)  # (x, label) at each midnight

    @property
    def summary(self):
        """The chart in words, for screen readers and the figure caption."""
        if not self.total:
            return "No bookings imported in the last 7 days."
        return (f"{self.total} booking{'s' if self.total != 1 else ''} imported in the last 7 days; "
                f"busiest hour: {self.peak}.")


def _nice_ceiling(value):
    """The smallest of 1, 2, 5, 10, 20, 50, ... at or above ``value``."""
    step = 1
    while True:
        for m in (1, 2, 5):
            if step * m >= value:
                return step * m
        step *= 10


def hourly_bars(first_hour, counts):
    """Lay out one bar per hour starting at ``first_hour`` (naive UTC)."""
    plot_w = WIDTH - LEFT - RIGHT
    plot_h = HEIGHT - TOP - BOTTOM
    peak = max(counts) if counts else 0
    top_value = _nice_ceiling(max(peak, 1))
    slot = plot_w / max(len(counts), 1)
    bar_w = max(slot - 1, 1)
    chart = Chart(WIDTH, HEIGHT, LEFT, WIDTH - RIGHT, TOP, TOP + plot_h, sum(counts), peak)
    for i, n in enumerate(counts):
        start = first_hour + timedelta(hours=i)
        label = f"{start:%a %d %b, %H:00}–{start + timedelta(hours=1):%H:00} UTC: {n} imported"
        h = plot_h * n / top_value
        chart.bars.append(Bar(round(LEFT + i * slot, 2), round(TOP + plot_h - h, 2), round(bar_w, 2), round(h, 2),
                              n, label))
        x = LEFT + i * slot
        if start.hour == 0 and x + DAY_LABEL_WIDTH <= WIDTH - RIGHT:
            chart.days.append((round(x, 2), f"{start:%a %d}"))
    for value in (0, top_value // 2 if top_value > 1 else None, top_value):
        if value is not None:
            chart.gridlines.append((round(TOP + plot_h - plot_h * value / top_value, 2), str(value)))
    return chart
