"""Friendly error pages for the whole app (404, 409, 500).

Registered on the ``main`` blueprint with ``app_errorhandler`` so they apply
everywhere. Webhook and JSON callers get JSON; HTMX callers get a small
alert fragment the page can show; browsers get a page that extends the layout.
"""
from flask import current_app, jsonify, render_template, request

from portal.extensions import htmx
from portal.main import bp

MESSAGES = {
    404: "We couldn't find that page. It may have been removed, or it belongs to another subaccount.",
    409: "This change can't be made.",
    500: "Something went wrong on our side. Please try again in a moment.",
}


def wants_json():
    """JSON for webhooks and API clients that ask for it (not for browsers)."""
    if request.path.startswith("/webhooks/") or request.is_json:
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json" and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]


def error_response(status, message=None):
    """The response for ``status`` in the form the caller understands."""
    message = message or MESSAGES[status]
    if wants_json():
        return jsonify(error=message, status=status), status
    if htmx:
        return render_template("_partials/_alert.html", message=message, category="error"), status, {
            "HX-Retarget": "#htmx-alerts", "HX-Reswap": "innerHTML"}
    return render_template(f"errors/{status}.html", message=message), status


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
