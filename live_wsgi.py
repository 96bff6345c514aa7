"""The live process's WSGI entry: ``gunicorn -k gevent live_wsgi:app`` (portal/live_stream.py).

The same app and settings as ``wsgi.py`` with ``LIVE_STREAM_SERVER`` on, where
each open stream is a greenlet rather than a request thread. It answers the
streams and its health check only: every other path is a 404, so no page,
form or write ever runs under gevent.
"""
from werkzeug.exceptions import NotFound

from portal import create_app

SERVED = ("/live/stream", "/live/health")

portal = create_app({"LIVE_STREAM_SERVER": True})


def app(environ, start_response):
    if environ.get("PATH_INFO") not in SERVED:
        return NotFound()(environ, start_response)
    return portal(environ, start_response)
