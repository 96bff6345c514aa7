"""Sign-in throttling (SPEC T3): failures are counted per email address in Redis.

Counting by the address typed, not by account, means an unknown address is
locked exactly like a real one, so the lock does not reveal which accounts
exist. If Redis is unreachable, sign-in still works (unthrottled) rather
than locking everyone out; the failure is logged.
"""
import logging

from flask import current_app
from redis.exceptions import RedisError

from portal.queues import get_redis

log = logging.getLogger(__name__)


def _key(email):
    return f"calbridge:signin-failures:{email}"


def is_locked(email):
    try:
        count = get_redis().get(_key(email))
    except RedisError as exc:
        log.warning("sign-in throttle unavailable: %s", exc)
        return False
    return count is not None and int(count) >= current_app.config["SIGNIN_MAX_FAILURES"]


def record_failure(email):
    """Count a failed attempt; the count expires SIGNIN_LOCKOUT_SECONDS after the last one."""
    try:
        pipe = get_redis().pipeline()
        pipe.incr(_key(email))
        pipe.expire(_key(email), current_app.config["SIGNIN_LOCKOUT_SECONDS"])
        pipe.execute()
    except RedisError as exc:
        log.warning("sign-in throttle unavailable: %s", exc)


def clear(email):
    try:
        get_redis().delete(_key(email))
    except RedisError:
        pass
