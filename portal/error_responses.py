"""An error in the form the caller understands: JSON, an HTMX alert fragment, or a page."""
from flask import jsonify, render_template, request
from flask_htmx import make_response

from portal.extensions import htmx

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
        return make_response(render_template("_partials/_alert.html", message=message, category="error"), status,
                             retarget="#htmx-alerts", reswap="innerHTML")
    return render_template(f"errors/{status}.html", message=message), status
