"""The calendar: day, week and month views as a time grid, and the Calendars page (issue 16).

Server-rendered (``portal.appointments.grid`` places each appointment with
classes, so no inline style breaks the CSP), in the person's time zone, with
filters by calendar and owner. Every query is scoped to the current
subaccount (T2).
"""
from datetime import timedelta

from flask import flash, render_template, request, url_for

from portal import localtime, params
from portal.appointments import bp, calendar_list, grid, grid_html, queries
from portal.tenancy import current_subaccount, subaccount_required

BAD_DATE = "That isn't a date we understand (YYYY-MM-DD, years 1900 to 2999), so here is {what}."


def _asked_day(what, today):
    asked = params.day(request.args.get("start"))
    if request.args.get("start") and asked is None:
        flash(BAD_DATE.format(what=what), "warning")
    return asked or today


def _filters(sub):
    """The calendar and owner filters as asked, each kept only when it is one of the options."""
    calendars = queries.calendar_options(sub)
    owners = queries.owner_options(sub)
    calendar = request.args.get("calendar") or None
    owner = request.args.get("owner") or None
    if calendar not in dict(calendars):
        calendar = None
    if owner not in dict(owners):
        owner = None
    return {"calendar": calendar, "owner": owner}, calendars, owners


def _link(endpoint, day, chosen):
    return url_for(endpoint, start=day.isoformat(), **{k: v for k, v in chosen.items() if v})


def _context(view, day, first, chosen, calendars, owners, truncated, tz, **extra):
    today = localtime.local_today(tz)
    return dict(
        view=view, day=day, first=first, today=today, chosen=chosen, calendars=calendars, owners=owners,
        truncated=truncated, hours=grid.hour_labels(tz), zone=tz.key,
        link=lambda endpoint, d: _link(endpoint, d, chosen), **extra)


def _columns(sub, first, days, chosen, tz, max_lanes):
    begin, end = localtime.local_days_utc(first, days, tz)
    rows, truncated = queries.in_range(sub, begin, end, **chosen)
    per_day = grid.by_local_day(rows, first, days, tz)
    return [grid.lay_out_day(d, items, tz, max_lanes) for d, items in per_day.items()], truncated


def _appointment_url():
    """``/calendars/appointments/``: where an id goes; one url_for per page, not per event (~500 a week)."""
    return url_for("appointments.appointment", appointment_id=1)[:-1]


def _grid_context(columns):
    appointment_url = _appointment_url()
    return {"columns": columns, "scroll_row": grid.scroll_row(columns),
            "event_links": {c.day: grid_html.column_links(c, appointment_url) for c in columns}}


@bp.route("/week")
@subaccount_required
def week():
    """Monday to Sunday as a time grid, in the person's zone, with prev/next week links."""
    sub, tz = current_subaccount(), localtime.current_zone()
    today = localtime.local_today(tz)
    monday = queries.week_start(_asked_day("this week", today))
    chosen, calendars, owners = _filters(sub)
    columns, truncated = _columns(sub, monday, 7, chosen, tz, grid.WEEK_LANES)
    return render_template(
        "appointments/week.html", **_grid_context(columns), monday=monday, sunday=monday + timedelta(days=6),
        prev_day=monday - timedelta(days=7), next_day=monday + timedelta(days=7),
        today_day=queries.week_start(today), day_is_current=monday == queries.week_start(today),
        **_context("week", monday, monday, chosen, calendars, owners, truncated, tz))


@bp.route("/day")
@subaccount_required
def day():
    """One day as a time grid, with room for more overlapping appointments side by side."""
    sub, tz = current_subaccount(), localtime.current_zone()
    today = localtime.local_today(tz)
    d = _asked_day("today", today)
    chosen, calendars, owners = _filters(sub)
    columns, truncated = _columns(sub, d, 1, chosen, tz, grid.DAY_LANES)
    return render_template(
        "appointments/day.html", **_grid_context(columns), prev_day=d - timedelta(days=1), next_day=d + timedelta(days=1),
        today_day=today, day_is_current=d == today,
        **_context("day", d, d, chosen, calendars, owners, truncated, tz))


@bp.route("/month")
@subaccount_required
def month():
    """The weeks of a month, each day with its first appointments and how many more."""
    sub, tz = current_subaccount(), localtime.current_zone()
    today = localtime.local_today(tz)
    first = _asked_day("this month", today).replace(day=1)
    chosen, calendars, owners = _filters(sub)
    weeks = grid.month_weeks(first)
    begin, end = localtime.local_days_utc(weeks[0][0], 7 * len(weeks), tz)
    rows, truncated = queries.in_range(sub, begin, end, limit=queries.MONTH_LIMIT, **chosen)  # names: announcements
    per_day = grid.by_local_day(rows, weeks[0][0], 7 * len(weeks), tz)
    prev_month = (first - timedelta(days=1)).replace(day=1)
    next_month = (first + timedelta(days=31)).replace(day=1)
    return render_template(
        "appointments/month.html", weeks=weeks, per_day=per_day, shown=grid.MONTH_SHOWN,
        appointment_url=_appointment_url(),
        prev_day=prev_month, next_day=next_month, today_day=today.replace(day=1),
        day_is_current=first == today.replace(day=1),
        **_context("month", first, weeks[0][0], chosen, calendars, owners, truncated, tz))


@bp.route("/calendars")
@subaccount_required
def calendars():
    """Each imported calendar: personal, round robin or collective; who selected it; its booking link."""
    return render_template("appointments/calendars.html",
                           imported=calendar_list.imported_calendars(current_subaccount()))
