"""Follow-up tasks ("My tasks") and the portal's notifications (the bell), made by workflow steps."""
from flask import Blueprint

bp = Blueprint("tasks", __name__, url_prefix="/tasks")

from portal.tasks import views  # noqa: E402,F401
