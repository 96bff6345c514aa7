"""Workflows (issue 14): the list, the builder, the history and the test run."""
from flask import Blueprint

bp = Blueprint("workflows", __name__, url_prefix="/workflows")

from portal.workflows import history_views, step_views, views  # noqa: E402,F401
