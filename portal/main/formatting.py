"""Template filters for dates and times. Every time in the portal is UTC, and says so."""
from portal.main import bp


@bp.app_template_filter("day")
def day(dt):
    """``Mon 5 Jan 2026``."""
    return f"{dt:%a} {dt.day} {dt:%b %Y}" if dt else ""


@bp.app_template_filter("clock")
def clock(dt):
    """``14:30``."""
    return f"{dt:%H:%M}" if dt else ""


@bp.app_template_filter("when")
def when(dt):
    """``Mon 5 Jan 2026, 14:30 UTC``."""
    return f"{day(dt)}, {clock(dt)} UTC" if dt else "—"


@bp.app_template_filter("span")
def span(appointment):
    """``Mon 5 Jan 2026, 14:30–15:00 UTC``; both dates when it crosses midnight."""
    start, end = appointment.start, appointment.end
    if end is None or start.date() == end.date():
        return f"{day(start)}, {clock(start)}–{clock(end)} UTC"
    return f"{when(start)} – {when(end)}"


@bp.app_template_filter("duration")
def duration(appointment):
    """``30 min`` / ``1 h 15 min``."""
    minutes = int((appointment.end - appointment.start).total_seconds() // 60)
    hours, rest = divmod(minutes, 60)
    if not hours:
        return f"{rest} min"
    return f"{hours} h {rest} min" if rest else f"{hours} h"
