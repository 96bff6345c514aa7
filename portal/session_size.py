"""Keeps the signed session cookie well under the 4 KB a browser accepts.

The whole session travels in one cookie; past about 4 KB a browser drops it
silently, which signs the person out and makes every form fail its CSRF
check. Two things used to grow it without end: notices flashed by requests
whose page was never shown (an HTMX swap, a redirect not followed), and one
stored OAuth state per Connect click that never came back
(``portal.calendly.oauth.keep_newest_states`` trims those).
"""
from flask import session

FLASHES_KEPT = 5  # more than a page shows at once; older ones are stale by then


def init_app(app):
    @app.after_request
    def _bounded_flashes(response):
        queued = session.get("_flashes")
        if queued:
            unique = list(dict.fromkeys(tuple(f) for f in queued))[-FLASHES_KEPT:]
            if len(unique) != len(queued):
                session["_flashes"] = unique
        return response
