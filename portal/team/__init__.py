"""Settings > Team: a subaccount's admins run their team (issue 15; SPEC T1, T2)."""
from flask import Blueprint

bp = Blueprint("team", __name__, url_prefix="/settings/team")

from portal.team import views  # noqa: E402,F401
