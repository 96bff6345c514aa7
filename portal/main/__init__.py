"""The dashboard, the subaccount switcher, the error pages and the date filters."""
from flask import Blueprint

bp = Blueprint("main", __name__)

from portal.main import errors, formatting, views  # noqa: E402,F401
