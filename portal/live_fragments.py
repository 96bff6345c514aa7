"""Live fragments drawn once for every open page at the same version (issue 19, figure 2 at 50 pages).

At 20 bookings/s every live poll sees a change, so each open Calendars page
fetched its list about twice a second; drawing it (two queries and ~25 rows
of template) per page per change was ~7 ms of a core each, and each page's
second request (the poll, then the list) cost the browser as much again. The
list a page gets depends only on the subaccount, what the page asks for
(filter, calendar, cursor), the person's time zone and the subaccount's live
version (portal/live.py, bumped after every commit that changes what the
pages show). So the first page to ask at a version draws it and keeps it in
Redis a short while under ``(subaccount, version, list key)``; the list key
(a digest of the rest) is on the page, so every other page's live poll gets
the kept list in its answer (no database, no template, no second request).

The version is read *before* the rows: a fragment kept under version V is
never older than V (a change committed meanwhile shows earlier, never later).
Lists that depend on the clock (Upcoming drops what has ended) keep the
minute they were drawn in and are drawn again in the next one. The key holds
the subaccount id taken after the membership check (or from the poll's
signed token), so a page only ever reads its own subaccount's fragments.
"""
import hashlib
import logging
import re
import time

log = logging.getLogger(__name__)

KEEP_SECONDS = 30
_KEY = "calbridge:live:fragment:{}:{}:{}"
_LIST_KEY = re.compile(r"^[0-9a-f]{20}$")
_SEP = b"\n"


def list_key(parts):
    """The digest that names one list (what it shows, in which zone) within a subaccount; safe on a page."""
    return hashlib.sha1(repr(parts).encode()).hexdigest()[:20]


def _key(subaccount_id, version, key):
    return _KEY.format(int(subaccount_id), version, key)


def _minute():
    return str(int(time.time() // 60))


def cached(subaccount_id, parts, draw, *, clock_bound=True):
    """``(fingerprint, html)`` of the list named by ``parts``, drawn by ``draw()`` at most once per version.

    ``draw`` returns ``(fingerprint, html)``; the fingerprint is what a page
    sends back as ``v`` to be told "unchanged" (204). Without Redis it draws
    every time: a slower page, never a wrong one.
    """
    from portal import live
    from portal.queues import get_redis

    try:
        redis = get_redis()
        version = live.version(subaccount_id)
    except Exception:
        log.warning("live fragments: Redis unavailable, drawing without the cache", exc_info=True)
        return draw()
    key = _key(subaccount_id, version, list_key(parts))
    found = _read(redis, key)
    if found is not None:
        return found
    fingerprint, html = draw()
    minute = _minute() if clock_bound else ""
    try:
        redis.set(key, _SEP.join((fingerprint.encode(), minute.encode(), html.encode())), ex=KEEP_SECONDS)
    except Exception:  # the next page draws it again
        log.warning("live fragments: could not keep a fragment", exc_info=True)
    return fingerprint, html


def kept(subaccount_id, version, key):
    """``(fingerprint, html)`` kept for the list ``key`` at ``version``, or None (not drawn yet, or unknown key)."""
    from portal.queues import get_redis

    if not key or not _LIST_KEY.match(key):
        return None
    return _read(get_redis(), _key(subaccount_id, version, key))


def _read(redis, key):
    try:
        value = redis.get(key)
    except Exception:
        return None
    if not value:
        return None
    fingerprint, minute, html = value.split(_SEP, 2)
    if minute and minute.decode() != _minute():  # drawn in an earlier minute: a clock-bound list is drawn again
        return None
    return fingerprint.decode(), html.decode()
