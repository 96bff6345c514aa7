"""Appointments: the list, the calendar views (day, week, month), the Calendars page and the detail page
(SPEC E1, E3)."""
from flask import Blueprint

bp = Blueprint("appointments", __name__, url_prefix="/calendars")

from portal.appointments import calendar_views, views  # noqa: E402,F401
