"""The ``Server-Timing`` header on every response: how long the portal took to answer it.

``Server-Timing: app;dur=<ms>`` (W3C Server Timing) is what the browser's
developer tools show as server time and what figure 5 of the bench reads,
so "server time" is the portal's own measure, not a client's round trip.
It runs from the first ``before_request`` function (registered before any
other) to the last ``after_request`` one; errors, redirects, 404s and
static files get it too.
"""
import time

from flask import g

METRIC = "app"


def init_app(app):
    """Register first: ``before_request`` functions run in order, ``after_request`` ones in reverse."""
    app.before_request_funcs.setdefault(None, []).insert(0, _start)
    app.after_request_funcs.setdefault(None, []).insert(0, _stamp)


def _start():
    g.server_timing_started = time.perf_counter()


def _stamp(response):
    started = g.get("server_timing_started")
    if started is not None:
        elapsed_ms = (time.perf_counter() - started) * 1000
        response.headers["Server-Timing"] = f"{METRIC};dur={elapsed_ms:.1f}"
    return response


def parse(header, metric=METRIC):
    """Milliseconds of ``metric`` in a ``Server-Timing`` header value, or ``None`` (the bench reads it)."""
    for entry in (header or "").split(","):
        name, *params = [part.strip() for part in entry.split(";")]
        if name != metric:
            continue
        for param in params:
            key, _, value = param.partition("=")
            if key.strip() == "dur":
                try:
                    return float(value.strip().strip('"'))
                except ValueError:
                    return None
    return None
