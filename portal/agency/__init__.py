"""The Agency area: agency admins create and name subaccounts and invite their first admin (issue 15, SPEC T1)."""
from flask import Blueprint

bp = Blueprint("agency", __name__, url_prefix="/agency")

from portal.agency import views  # noqa: E402,F401
