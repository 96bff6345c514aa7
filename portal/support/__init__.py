"""The support console: every connection's sync health (SPEC S2)."""
from flask import Blueprint

bp = Blueprint("support", __name__, url_prefix="/support")

from portal.support import views  # noqa: E402,F401
