"""Sent emails (the subaccount's outbox, for admins), Settings > Email (the sender name) and the public unsubscribe page."""
from flask import Blueprint

bp = Blueprint("emails", __name__)

from portal.emails import settings_views, unsubscribe_views, views  # noqa: E402,F401
