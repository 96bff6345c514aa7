"""Template filters for lengths and ages; the date and time filters live in ``portal.localtime``."""
from portal.localtime import day, span, when  # noqa: F401  (re-exported: older imports use this module)
from portal.main import bp
from portal.timeutil import utcnow


@bp.app_template_filter("ago")
def ago(dt, now=None):
    """``just now`` / ``5 min ago`` / ``3 h ago`` / ``2 days ago``; older ones as a date."""
    if dt is None:
        return ""
    seconds = max(0, int(((now or utcnow()) - dt).total_seconds()))
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{seconds // 60} min ago"
    if seconds < 86400:
        return f"{seconds // 3600} h ago"
    if seconds < 7 * 86400:
        days = seconds // 86400
        return f"{days} day{'s' if days > 1 else ''} ago"
    return f"on {day(dt)}"


@bp.app_template_filter("duration")
def duration(appointment):
    """``30 min`` / ``1 h 15 min``."""
    minutes = int((appointment.end - appointment.start).total_seconds() // 60)
    hours, rest = divmod(minutes, 60)
    if not hours:
        return f"{rest} min"
    return f"{hours} h {rest} min" if rest else f"{hours} h"
