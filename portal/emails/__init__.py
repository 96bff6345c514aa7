"""Sent emails (the subaccount's outbox, for admins) and the public unsubscribe page."""
from flask import Blueprint

bp = Blueprint("emails", __name__)

from portal.emails import unsubscribe_views, views  # noqa: E402,F401
