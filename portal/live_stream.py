"""Live pages pushed (issue 19): one server-sent event stream per open page, served by the live process.

Hand-written rather than flask-sse: that package relays every Redis message
to every client, while a page here needs at most one event per ``GAP_SECONDS``
(20 bookings/s would be 20 redraws/s in each of 50 pages), a signed page
token instead of an open channel name, and the Calendars list itself in the
event so no page makes a request to stay current.

The write side is portal/live.py: each change bumps the subaccount's
counter and publishes ``"<subaccount> <version>"`` on ``CHANNEL``. Here one
listener thread per process hears that channel and wakes the streams of that
subaccount; each stream answers ``event: changed`` with ``{"version": …}``,
plus ``fingerprint`` and, when the page has a live list, that list: only its
``changes`` for a page showing the last drawing, else the whole ``html`` too
(drawn once per version through portal/live_fragments.py, and turned into
event text once per phase of the beat for all the pages of that phase).

Streams hold no request thread: ``make run`` serves them from their own
gunicorn with the gevent worker (``live_wsgi.py``, ``LIVE_STREAM_SERVER``),
where a stream is a greenlet; any other process answers 503 and the page
keeps polling (portal/live.py). A stream ends itself after ``RENEW_SECONDS``
with ``event: renew`` (the page opens a new one at once), so the session and
membership are checked again at least that often.
"""
import itertools
import json
import logging
import random
import threading
import time
from urllib.parse import parse_qs, urlsplit

from flask import Response, current_app, request, stream_with_context

from portal import live
from portal.appointments.live_list import changes as list_changes

log = logging.getLogger(__name__)

CHANNEL = "calbridge:live:changes"
GAP_SECONDS = 0.7  # at most one event per page this often: what a page costs to redraw, against how late it may be
# Streams are dealt in turn to this many points of the beat: pages of one point share a drawing, and 50 open
# pages do not all redraw in the same instant (issue 19, figure 2: on a shared machine their renderers queued
# behind each other for ~0.4 s after every beat). Each point costs the live process one drawing per beat.
PHASES = 6
KEEPALIVE_SECONDS = 15
RENEW_SECONDS = 300
RETRY_MS = 1000
PING = "event: ping\ndata: \n\n"


class Hub:
    """The newest version heard for each subaccount, and the streams waiting for a newer one."""

    def __init__(self):
        self.changed = threading.Condition()
        self.versions = {}
        self._thread = None
        self._start = threading.Lock()
        self.ready = threading.Event()  # subscribed and caught up: a change from now on is heard

    def start(self, redis_url):
        with self._start:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._listen, args=(redis_url,), name="live-hub", daemon=True)
                self._thread.start()

    def _listen(self, redis_url):
        from redis import Redis

        while True:
            try:
                # Keepalive and a PING every 30 s: a half-open connection is noticed, not waited on forever.
                redis = Redis.from_url(redis_url, socket_keepalive=True, health_check_interval=30)
                pubsub = redis.pubsub(ignore_subscribe_messages=True)
                pubsub.subscribe(CHANNEL)
                self._catch_up(redis)  # what was published while no one listened
                self.ready.set()
                while True:
                    message = pubsub.get_message(timeout=KEEPALIVE_SECONDS)
                    if message is not None and message["type"] == "message":
                        sub_id, version = message["data"].decode().split()
                        self.heard(int(sub_id), version)
            except Exception:  # Redis went away: pages keep their stream and hear again once it is back
                self.ready.clear()
                log.warning("live hub: lost Redis, listening again shortly", exc_info=True)
                time.sleep(1.0)

    def _catch_up(self, redis):
        for sub_id in list(self.versions):
            self.heard(sub_id, redis.get(live._key(sub_id)))

    def heard(self, sub_id, version):
        """Note what Redis says now (a Redis that lost its counters starts them again: pages follow)."""
        version = as_version(version)
        with self.changed:
            if self.versions.get(sub_id) != version:
                self.versions[sub_id] = version
                self.changed.notify_all()

    def first(self, sub_id, version):
        """A stream's own reading, kept only until the listener has heard this subaccount (it is newer)."""
        with self.changed:
            return self.versions.setdefault(sub_id, as_version(version))

    def latest(self, sub_id, default):
        return self.versions.get(sub_id, default)

    def wait(self, sub_id, seen, timeout):
        """The subaccount's version once it differs from ``seen``, or None after ``timeout`` seconds."""
        with self.changed:
            if self.changed.wait_for(lambda: self.versions.get(sub_id, seen) != seen, timeout):
                return self.versions[sub_id]
            return None


def as_version(value):
    """A counter's value (bytes, text or int) as an int; -1 for anything else (a page that never saw one)."""
    try:
        return int(value.decode() if isinstance(value, bytes) else value)
    except (TypeError, ValueError, AttributeError):
        return 0 if value is None else -1


hub = Hub()
_phases = itertools.count()  # the next stream's point of the beat
_drawn = {}  # (subaccount, list key, phase) -> its drawing: one draw and one text for the pages of one phase
_drawn_guard = threading.Lock()


def _drawn_entry(sub_id, key, phase=0):
    """``[lock, (drawn_as, whole text, lean text or None, lean's from) or None, (fingerprint, html) or None]`` of one list at one phase: the first stream of a beat draws, the others wait; the last drawing is
    kept to say what changed since."""
    with _drawn_guard:
        return _drawn.setdefault((sub_id, key, phase), [threading.Lock(), None, None])


def _event(name, data, event_id=None):
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {name}\ndata: {data}\n\n"


def _changed_event(sub_id, version, live_list, phase=0, shown=None):
    """``(event text, fingerprint)``: the ``changed`` event at ``version``; with a list, drawn once for all the
    pages of this phase. A page still showing the last drawing (``shown``) gets only its changes, the others
    the whole list too."""
    if live_list is None:
        return _event("changed", json.dumps({"version": str(version)}), version), None
    entry = _drawn_entry(sub_id, live_list.key, phase)
    drawn_as = (version, int(time.time() // 60))  # lists that depend on the clock are drawn again each minute
    with entry[0]:
        if entry[1] is None or entry[1][0] != drawn_as:
            fingerprint, html = live_list.draw()
            answer = {"version": str(version), "fingerprint": fingerprint}
            changes = list_changes(entry[2], (fingerprint, html))
            lean = None
            if changes is not None:  # a page drawn at the last beat's list needs only these
                answer["changes"] = changes
                lean = _event("changed", json.dumps(answer, separators=(",", ":")), version)
            answer["html"] = html
            whole = _event("changed", json.dumps(answer, separators=(",", ":")), version)
            entry[1] = (drawn_as, whole, lean, changes and changes["from"])
            entry[2] = (fingerprint, html)
        _, whole, lean, since = entry[1]
        return (lean if lean is not None and shown == since else whole), entry[2][0]


def _next_tick(now, phase=0):
    """Streams send on a shared beat (multiples of GAP_SECONDS, moved by ``phase`` PHASES-ths of it): the events
    of one phase's pages then share one draw."""
    offset = phase * GAP_SECONDS / PHASES
    return (int((now - offset) / GAP_SECONDS) + 1) * GAP_SECONDS + offset


def events(sub_id, seen, live_list=None, shown=None):
    """The stream's text: a ``changed`` event whenever the version moves (at most one per GAP_SECONDS).

    ``shown``: the fingerprint of the list the page shows; while it is the last drawing, an event carries only
    the changes since (a page then parses a few rows, not the list twice)."""
    yield f"retry: {RETRY_MS}\n\n"
    started, last_sent = time.monotonic(), -GAP_SECONDS
    renew_after = RENEW_SECONDS + random.uniform(0, RENEW_SECONDS / 5)  # pages opened together renew apart
    current = hub.first(sub_id, live.version(sub_id))
    phase = next(_phases) % PHASES
    while True:
        if current != seen:
            now = time.time()
            if time.monotonic() - last_sent < GAP_SECONDS:  # a burst: wait for the beat, then send the newest
                time.sleep(max(0.0, _next_tick(now, phase) - now))
                current = hub.latest(sub_id, current)
            text, shown = _changed_event(sub_id, current, live_list, phase, shown)
            yield text
            seen, last_sent = current, time.monotonic()
        if time.monotonic() - started > renew_after:
            yield _event("renew", "")
            return
        newer = hub.wait(sub_id, seen, KEEPALIVE_SECONDS)
        if newer is None:
            yield PING  # an event, not a comment: the page hears it and knows its stream is alive
        else:
            current = newer


def _cors(response):
    """The page is on the portal's origin and the live process on another port: let it read the stream."""
    origin = request.headers.get("Origin")
    if origin and origin == live.portal_origin():
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Allow-Credentials"] = "true"
        response.headers["Vary"] = "Origin"
    return response


def _live_list(query):
    """The Calendars list the page shows (its ``data-live-list`` URL) and the fingerprint it was drawn at, or
    ``(None, None)`` for pages without one."""
    if not query:
        return None, None
    from portal.appointments.live_list import LiveList

    try:
        parts = urlsplit(query)
    except ValueError:  # not a URL at all (a crafted request): a stream without the list
        return None, None
    if parts.scheme or parts.netloc:
        return None, None
    args = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    return LiveList.for_url(parts.path, args), args.get("v")


def stream():
    """``GET /live/stream?t=…&v=…[&list=…]``: the page's events (portal/live.py's token says whose)."""
    if not current_app.config.get("LIVE_STREAM_SERVER"):
        return _cors(live.refused("Live updates come from the live process; this page asks again shortly.", 503))
    sub_id, refusal = live.page_subaccount()
    if refusal is not None:
        return _cors(refusal)
    from flask_login import current_user

    from portal.tenancy import current_subaccount

    sub = current_subaccount() if current_user.is_authenticated else None
    if sub is None or sub.id != sub_id:  # signed out everywhere, or no longer a member of that subaccount
        return _cors(live.refused("Please sign in again.", 401))
    live_list, shown = _live_list(request.args.get("list"))
    seen = as_version(request.headers.get("Last-Event-ID") or request.args.get("v", ""))
    try:
        hub.start(current_app.config["REDIS_URL"])
        hub.ready.wait(timeout=2)  # a stream reading the counter before the listener subscribed could miss a change
        live.version(sub_id)
    except Exception:
        log.warning("live stream: Redis unavailable", exc_info=True)
        return _cors(live.refused("Updates are paused for a moment.", 503))
    from portal.extensions import db

    if not db.is_closed():
        db.close()  # a stream lasts minutes: it opens the database only to draw its list
    response = Response(stream_with_context(events(sub_id, seen, live_list, shown)), mimetype="text/event-stream")
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Accel-Buffering"] = "no"  # a proxy in front must pass each event on at once
    return _cors(response)
