"""Sign-in and sign-out (SPEC T3), password reset, accepting an invitation."""
from flask import Blueprint

bp = Blueprint("auth", __name__)

from portal.auth import views  # noqa: E402,F401
from portal.auth import reset_views  # noqa: E402,F401
from portal.auth import invitation_views  # noqa: E402,F401
