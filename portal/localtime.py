"""Local time (issue 16): the database keeps naive UTC; people read and type their own zone's time.

The zone is the signed-in user's own (My profile) when they set one, else their
subaccount's (Calendar Settings › Preferences), else UTC. Every shown time
names its zone ("9:00 AM CST"); every typed time is read in it and stored as
UTC (``to_utc``), DST-correct through ``zoneinfo``.

Decisions: zones in the Americas (``America/…``, ``US/…``, ``Canada/…``) read a
12-hour clock ("9:00 AM"), every other zone, UTC included, a 24-hour one
("14:30"). A typed time that a clock change skips (2:30 AM on the spring-forward
night) is refused with a sentence; one that happens twice (the fall-back
hour) is read as the first of the two.
"""
from datetime import datetime, time, timedelta, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo, available_timezones

from flask import g, has_request_context

UTC_NAME = "UTC"
TWELVE_HOUR_PREFIXES = ("America/", "US/", "Canada/")


@lru_cache(maxsize=1)
def zone_names():
    """Every IANA zone a person can choose, ``UTC`` first, then by name."""
    names = sorted(n for n in available_timezones() if "/" in n and not n.startswith(("Etc/", "SystemV/")))
    return [UTC_NAME] + names


def is_zone(name):
    return name == UTC_NAME or name in set(zone_names())


@lru_cache(maxsize=None)
def zone(name):
    """The ``ZoneInfo`` for ``name``; UTC for an unknown or empty name."""
    try:
        return ZoneInfo(name) if name and is_zone(name) else ZoneInfo(UTC_NAME)
    except (ValueError, OSError):
        return ZoneInfo(UTC_NAME)


def zone_for(user=None, subaccount=None):
    """The user's own zone when set, else the subaccount's, else UTC."""
    name = getattr(user, "time_zone", None) or getattr(subaccount, "time_zone", None) or UTC_NAME
    return zone(name)


def current_zone():
    """The zone of the person this request is for (UTC outside a request or signed out)."""
    if not has_request_context():
        return zone(UTC_NAME)
    if "time_zone" not in g:
        from flask_login import current_user
        from portal.tenancy import current_subaccount

        if current_user.is_authenticated:
            g.time_zone = zone_for(current_user, current_subaccount())
        else:
            g.time_zone = zone(UTC_NAME)
    return g.time_zone


def _zone(tz):
    return tz if tz is not None else current_zone()


def localize(dt, tz=None):
    """A naive UTC datetime as an aware datetime in ``tz`` (the current zone by default)."""
    if dt is None:
        return None
    aware = dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)
    return aware.astimezone(_zone(tz))


class NonexistentTime(ValueError):
    """A wall-clock time that a clock change skips in that zone."""


def to_utc(local, tz=None):
    """A naive wall-clock time in ``tz`` as naive UTC; refuses a time the zone skips."""
    if local is None:
        return None
    tz = _zone(tz)
    aware = local.replace(tzinfo=tz, fold=0)
    utc = aware.astimezone(timezone.utc)
    if utc.astimezone(tz).replace(tzinfo=None) != local.replace(tzinfo=None):
        raise NonexistentTime(
            f"{local:%d %b %Y} {clock_text(local, tz)} does not exist in {tz.key}: "
            "the clocks go forward that night. Choose a time an hour later.")
    return utc.replace(tzinfo=None)


def local_midnight_utc(day, tz=None):
    """When ``day`` begins in ``tz``, as naive UTC."""
    tz = _zone(tz)
    return datetime.combine(day, time.min, tzinfo=tz).astimezone(timezone.utc).replace(tzinfo=None)


def local_today(tz=None):
    return datetime.now(timezone.utc).astimezone(_zone(tz)).date()


def local_days_utc(first_day, days, tz=None):
    """``(begin, end)`` in naive UTC covering ``days`` local days from ``first_day``."""
    return local_midnight_utc(first_day, tz), local_midnight_utc(first_day + timedelta(days=days), tz)


def as_local_naive(dt, tz=None):
    """A naive UTC datetime as the naive wall-clock time in ``tz`` (what a form field shows)."""
    return localize(dt, tz).replace(tzinfo=None) if dt else dt


# ------------------------------------------------------------------ words
def twelve_hour(tz):
    return tz.key.startswith(TWELVE_HOUR_PREFIXES)


def clock_text(local, tz):
    """``9:00 AM`` (12-hour zones) or ``14:30``, of an already-local datetime."""
    # Fields, not strftime: the week view writes ~1,000 of these per page.
    hour, minute = local.hour, local.minute
    if twelve_hour(tz):
        return f"{hour % 12 or 12}:{minute:02d} {'AM' if hour < 12 else 'PM'}"
    return f"{hour:02d}:{minute:02d}"


def abbreviation(local):
    """``CST`` / ``CDT`` / ``CET`` / ``UTC`` (zones without a letter code give an offset like ``+03``)."""
    return local.tzname() or local.tzinfo.key


def day(dt, tz=None):
    """``Mon 5 Jan 2026`` (a date as it is; a datetime in the local zone)."""
    if not dt:
        return ""
    if isinstance(dt, datetime):
        dt = localize(dt, tz)
    return f"{dt:%a} {dt.day} {dt:%b %Y}"


def clock(dt, tz=None):
    """``14:30`` / ``9:00 AM``, local, without the zone."""
    if not dt:
        return ""
    tz = _zone(tz)
    return clock_text(localize(dt, tz), tz)


def zone_abbr(dt, tz=None):
    """The zone's abbreviation at that moment: ``CST`` in January, ``CDT`` in July."""
    return abbreviation(localize(dt, tz)) if dt else ""


def _moment(dt, tz, date_format, empty):
    if not dt:
        return empty
    tz = _zone(tz)
    local = localize(dt, tz)
    return f"{date_format(local)}, {clock_text(local, tz)} {abbreviation(local)}"


def when(dt, tz=None):
    """``Mon 5 Jan 2026, 14:30 UTC`` / ``Mon 5 Jan 2026, 9:00 AM CST``."""
    return _moment(dt, tz, day, "—")


def stamp(dt, tz=None):
    """``05 Jan 2026, 14:30 UTC``: a compact moment for tables of events."""
    return _moment(dt, tz, lambda local: f"{local:%d %b %Y}", "")


def span(appointment, tz=None):
    """``Mon 5 Jan 2026, 14:30–15:00 UTC``; both ends in full when it crosses midnight or a clock change."""
    tz = _zone(tz)
    start, end = localize(appointment.start, tz), localize(appointment.end, tz)
    if end is None:
        return when(appointment.start, tz)
    if start.date() == end.date() and abbreviation(start) == abbreviation(end):
        return f"{day(start)}, {clock_text(start, tz)}–{clock_text(end, tz)} {abbreviation(start)}"
    return f"{when(appointment.start, tz)} – {when(appointment.end, tz)}"


def times(appointment, tz=None):
    """``14:30–15:00`` / ``9:00 AM–9:30 AM``: an appointment's clock times, local, without the zone."""
    return f"{clock(appointment.start, tz)}–{clock(appointment.end, tz)}"


def zone_name(tz=None):
    """The IANA name of the current zone, e.g. ``America/Chicago``."""
    return _zone(tz).key


def init_app(app):
    for name, fn in (("day", day), ("clock", clock), ("local", localize), ("zone_abbr", zone_abbr), ("when", when),
                     ("stamp", stamp), ("span", span), ("times", times)):
        app.add_template_filter(fn, name)

    @app.context_processor
    def _zone_context():
        return {"time_zone_name": zone_name}
