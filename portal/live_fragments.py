"""Live fragments drawn once for every open page at the same version (issue 19, figure 2 at 50 pages).

At 20 bookings/s every live poll sees a change, so each open Calendars page
fetches its list about twice a second; drawing it (two queries and ~25 rows
of template) per page per change was ~7 ms of a core each, and 50 pages
swamped two cores. The list a page gets depends only on the subaccount, what
the page asks for (filter, calendar, cursor), the person's time zone and the
subaccount's live version (portal/live.py, bumped after every commit that
changes what the pages show). So the first page to ask at a version draws it
and keeps it in Redis a short while; every other page at that version, in
any gunicorn process, gets the same bytes.

The version is read *before* the rows: a fragment kept under version V is
never older than V (a change committed meanwhile shows earlier, never later).
Lists that depend on the clock (Upcoming drops what has ended) are also keyed
by the minute, so a kept list is at most a minute behind the clock, as a page
that nobody changes would be. The key holds the subaccount id taken after the
membership check, so a page only ever reads its own subaccount's fragments.
"""
import hashlib
import logging
import time

log = logging.getLogger(__name__)

KEEP_SECONDS = 30
_KEY = "calbridge:live:fragment:{}:{}"
_SEP = b"\n"


def _key(subaccount_id, parts):
    digest = hashlib.sha1(repr(parts).encode()).hexdigest()[:20]
    return _KEY.format(int(subaccount_id), digest)


def cached(subaccount_id, parts, draw, *, clock_bound=True):
    """``(fingerprint, html)`` of the fragment named by ``parts``, drawn by ``draw()`` at most once per version.

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
    minute = int(time.time() // 60) if clock_bound else None
    key = _key(subaccount_id, (version, minute, parts))
    try:
        kept = redis.get(key)
    except Exception:
        kept = None
    if kept:
        fingerprint, _, html = kept.partition(_SEP)
        return fingerprint.decode(), html.decode()
    fingerprint, html = draw()
    try:
        redis.set(key, fingerprint.encode() + _SEP + html.encode(), ex=KEEP_SECONDS)
    except Exception:  # the next page draws it again
        log.warning("live fragments: could not keep a fragment", exc_info=True)
    return fingerprint, html
