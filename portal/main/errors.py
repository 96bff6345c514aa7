"""Friendly error pages for the whole app (404, 409, 500).

Registered on the ``main`` blueprint with ``app_errorhandler`` so they apply
everywhere. Webhook and JSON callers get JSON; HTMX callers get a small
alert fragment the page can show; browsers get a page that extends the layout.
"""
from flask import current_app

from portal.error_responses import MESSAGES, error_response
from portal.main import bp


def _description(error):
    # Werkzeug's generic description is for developers; keep ours unless the view set one.
    default = type(error).description if hasattr(type(error), "description") else None
    description = getattr(error, "description", None)
    return description if description and description != default else None


@bp.app_errorhandler(404)
def not_found(error):
    return error_response(404)


@bp.app_errorhandler(409)
def conflict(error):
    return error_response(409, _description(error))


@bp.app_errorhandler(500)
def server_error(error):
    try:
        return error_response(500)
    except Exception:  # the layout itself may be what failed (e.g. the database is down)
        current_app.logger.exception("error page failed")
        return MESSAGES[500], 500, {"Content-Type": "text/plain; charset=utf-8"}
