"""Live pages (issue 19): a Redis counter per subaccount, pushed to open pages by the live process, polled without it.

With the live process (``LIVE_STREAM_URL``; portal/live_stream.py) each page
holds one event stream and makes no request to stay current: 50 open pages
cost the web processes nothing and the live process a few per cent of a core.
The 450 ms poll below is what a page uses while it has no stream (none
configured, the live process restarting, a seventh tab of one browser).

Every change an open page shows (an appointment booked, changed, cancelled
or deleted; a booking received by a connection) calls ``touch(subaccount_id)``.
Inside a transaction the touch waits for the commit (a rolled-back change
bumps nothing); outside one it bumps at once. A bump is one ``INCR`` of the
subaccount's counter and a ``PUBLISH`` of its new value, in one round trip.

Each page of the layout carries ``data-live-url`` (``GET /live?t=…``, a
token signed for this user and subaccount). static/app.js asks it every
``POLL_MS`` with the last version it saw: 204 while the counter is the
same (no database query, no template), else 200 with the new version, and
the page fires the DOM event ``calbridge:changed`` on ``document``. Regions
listen with ``hx-trigger="calbridge:changed from:document"`` and fetch
themselves again. A page whose only live region is the Calendars list also
sends the list's key ``k``: then a new version is answered as JSON with the
list itself when any page has drawn it at that version already
(portal/live_fragments.py), so that page needs no second request. When the server is down the page keeps asking (backing
off to a few seconds) and refreshes its regions once it answers again, so
it recovers from a restart by itself.

The token, not the session's membership rows, says which counter to read,
so a poll touches no table; it is bound to the session's login (signing
out clears the session, Sign out everywhere changes the login id: either
way the poll is refused) and expires after a day.
"""
import logging
import threading

from flask import Blueprint, Response, current_app, request, session
from itsdangerous import BadSignature, URLSafeTimedSerializer

from portal.extensions import db

log = logging.getLogger(__name__)

bp = Blueprint("live", __name__)

POLL_MS = 450
TOKEN_MAX_AGE = 24 * 3600
_SALT = "calbridge-live-v1"
_KEY = "calbridge:live:{}"
# flask-login keeps the signed-in user's id under this session key.
_SESSION_USER = "_user_id"

_pending = threading.local()


# ------------------------------------------------------------------ the write side
def _key(subaccount_id):
    return _KEY.format(int(subaccount_id))


# The counter and the news of it in one round trip: open streams (portal/live_stream.py) hear "<id> <version>".
_BUMP = """local v = redis.call('INCR', KEYS[1]) redis.call('PUBLISH', ARGV[1], ARGV[2] .. ' ' .. v) return v"""
_bump_script = None


def _bump(ids):
    global _bump_script
    from portal.live_stream import CHANNEL
    from portal.queues import get_redis

    try:
        redis = get_redis()
        if _bump_script is None:
            _bump_script = redis.register_script(_BUMP)
        pipe = redis.pipeline(transaction=False)
        for sub_id in ids:
            _bump_script(keys=[_key(sub_id)], args=[CHANNEL, int(sub_id)], client=pipe)
        pipe.execute()
    except Exception:  # a page that misses one bump refreshes at the next; the change itself is committed
        log.warning("live: could not bump %d subaccount counter(s)", len(ids), exc_info=True)


def touch(subaccount_id):
    """Open pages of ``subaccount_id`` should refresh: after the commit, or now outside a transaction."""
    if subaccount_id is None:
        return
    if db.obj is not None and db.in_transaction():
        ids = getattr(_pending, "ids", None)
        if ids is None:
            ids = _pending.ids = set()
        ids.add(int(subaccount_id))
    else:
        _bump([subaccount_id])


def _after_commit():
    ids = getattr(_pending, "ids", None)
    if ids:
        _pending.ids = None
        _bump(sorted(ids))


def _after_rollback():
    _pending.ids = None


def attach(database):
    """Hook ``database``'s outermost COMMIT and ROLLBACK (peewee calls these once per top-level transaction)."""
    if getattr(database, "_calbridge_live", False):
        return
    commit, rollback = database.commit, database.rollback

    def live_commit(*args, **kwargs):
        result = commit(*args, **kwargs)
        _after_commit()
        return result

    def live_rollback(*args, **kwargs):
        try:
            return rollback(*args, **kwargs)
        finally:
            _after_rollback()

    database.commit, database.rollback = live_commit, live_rollback
    database._calbridge_live = True


def version(subaccount_id):
    from portal.queues import get_redis

    value = get_redis().get(_key(subaccount_id))
    return value.decode() if value else "0"


# ------------------------------------------------------------------ the read side
def _serializer():
    return URLSafeTimedSerializer(current_app.secret_key, salt=_SALT)


def token_for(login_id, subaccount_id):
    """``login_id`` is flask-login's id of the user (it changes when the user signs out everywhere)."""
    return _serializer().dumps([str(login_id), int(subaccount_id)])


def url_for_page(user, subaccount):
    """The poll URL for a page of ``user`` working in ``subaccount`` (None when there is no subaccount)."""
    if user is None or subaccount is None or not getattr(user, "is_authenticated", False):
        return None
    return f"/live?t={token_for(user.get_id(), subaccount.id)}"


def refused(message, status):
    """A poll's or a stream's refusal, in words (the page shows none of it; it signs in or reloads)."""
    return Response(message, status, {"Cache-Control": "no-store", "Content-Type": "text/plain; charset=utf-8"})


def page_subaccount():
    """The subaccount id the request's ``t`` token names for this session, or the refusal to answer instead."""
    try:
        login_id, subaccount_id = _serializer().loads(request.args.get("t", ""), max_age=TOKEN_MAX_AGE)
        subaccount_id = int(subaccount_id)
    except (BadSignature, ValueError, TypeError):
        return None, refused("This page is out of date; reload it.", 404)
    if not login_id or session.get(_SESSION_USER) != login_id:
        return None, refused("Please sign in again.", 401)
    return subaccount_id, None


@bp.route("/live")
def poll():
    """204 while the subaccount's counter equals ``v``; else 200 with the counter (the page refreshes)."""
    subaccount_id, refusal = page_subaccount()
    if refusal is not None:
        return refusal
    try:
        current = version(subaccount_id)
    except Exception:
        log.warning("live: Redis unavailable", exc_info=True)
        return refused("Updates are paused for a moment.", 503)
    headers = {"Cache-Control": "no-store"}
    if request.args.get("v") == current:
        return "", 204, headers
    if request.args.get("k"):  # a live list's key: hand over the list if a page has drawn it at this version
        from portal import live_fragments

        try:
            found = live_fragments.kept(subaccount_id, current, request.args["k"])
        except Exception:
            found = None
        fingerprint, html = found or (None, None)
        return {"version": current, "fingerprint": fingerprint, "html": html}, 200, headers
    return current, 200, dict(headers, **{"Content-Type": "text/plain; charset=utf-8"})


def portal_origin():
    """``scheme://host[:port]`` of PORTAL_BASE_URL: the one origin whose pages may read a live stream."""
    from portal.security import _origin

    return _origin(current_app.config["PORTAL_BASE_URL"])


def stream_origin(config):
    """The live process's origin when it is not the portal's (its pages' CSP must allow it), else None."""
    from portal.security import _origin

    origin = _origin(config.get("LIVE_STREAM_URL") or "")
    return origin if origin and origin != _origin(config["PORTAL_BASE_URL"]) else None


def stream_url_for_page(user, subaccount):
    """Where the page opens its event stream (None: the page polls, as without the live process)."""
    base = current_app.config.get("LIVE_STREAM_URL")
    poll = url_for_page(user, subaccount)
    if not base or poll is None:
        return None
    return base + poll[len("/live"):]


@bp.route("/live/stream")
def stream():
    """The page's event stream: served by the live process only (portal/live_stream.py)."""
    from portal import live_stream

    return live_stream.stream()


@bp.route("/live/health")
def health():
    return "ok", 200, {"Content-Type": "text/plain; charset=utf-8", "Cache-Control": "no-store"}


def init_app(app):
    app.register_blueprint(bp)

    @app.context_processor
    def _live_context():
        from flask_login import current_user

        from portal.tenancy import current_subaccount

        def live_url():
            """The page's poll URL and the version it is drawn at (None without a subaccount)."""
            if not current_user.is_authenticated:
                return None
            sub = current_subaccount()
            url = url_for_page(current_user, sub)
            if url is None:
                return None
            try:
                drawn_at = version(sub.id)
            except Exception:  # Redis down: the page still renders; its first ask refreshes it
                drawn_at = ""
            return {"url": url, "version": drawn_at, "stream": stream_url_for_page(current_user, sub)}

        return {"live_url": live_url}
