"""Calendly's token endpoint allows 8 requests per user per minute (API-FACTS §8).

The portal's token refreshes are counted per Calendly user over a moving
minute in Redis (the ``limits`` package), shared by every worker process.
A refresh that finds the budget spent waits a little for a slot; a longer
wait goes back to the caller as ``RateLimited`` (RQ retries the job later),
so a busy connection never asks Calendly a ninth time and never loses its
tokens to a 429.
"""
import threading
import time

from limits import RateLimitItemPerMinute
from limits.storage import RedisStorage
from limits.strategies import MovingWindowRateLimiter

KEY_PREFIX = "calbridge:token-budget"
NAMESPACE = "oauth-token"

_limiters = {}
_lock = threading.Lock()


def _limiter(redis_url):
    with _lock:
        if redis_url not in _limiters:
            _limiters[redis_url] = MovingWindowRateLimiter(RedisStorage(redis_url, key_prefix=KEY_PREFIX))
        return _limiters[redis_url]


def take(redis_url, calendly_user_uri, per_minute, max_wait, sleep=time.sleep):
    """Spend one token request of the user's minute; returns 0 once taken, else the seconds until one frees.

    Waits (with ``sleep``) when a slot frees within ``max_wait`` seconds.
    """
    item = RateLimitItemPerMinute(per_minute)
    limiter = _limiter(redis_url)
    deadline = time.monotonic() + max_wait
    while True:
        if limiter.hit(item, NAMESPACE, calendly_user_uri):
            return 0.0
        wait = max(0.05, limiter.get_window_stats(item, NAMESPACE, calendly_user_uri).reset_time - time.time())
        if time.monotonic() + wait > deadline:
            return wait
        sleep(wait)
