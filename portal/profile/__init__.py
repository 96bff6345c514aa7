"""My profile (issue 15): one's name, email, password and signed-in sessions."""
from flask import Blueprint

bp = Blueprint("profile", __name__, url_prefix="/profile")

from portal.profile import views  # noqa: E402,F401
