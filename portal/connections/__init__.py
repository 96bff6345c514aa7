"""Calendars > Calendar Settings > Connections: connecting Calendly (SPEC C, D)."""
from flask import Blueprint

bp = Blueprint("connections", __name__, url_prefix="/calendars/settings")

from portal.connections import edit_views, views  # noqa: E402,F401
