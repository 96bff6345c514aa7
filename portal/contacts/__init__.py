"""Contacts: the list and the detail page with the assigned user (SPEC E2, O3)."""
from flask import Blueprint

bp = Blueprint("contacts", __name__, url_prefix="/contacts")

from portal.contacts import views  # noqa: E402,F401
