"""Appointments: the list, the week view and the detail page (SPEC E1, E3)."""
from flask import Blueprint

bp = Blueprint("appointments", __name__, url_prefix="/calendars")

from portal.appointments import views  # noqa: E402,F401
