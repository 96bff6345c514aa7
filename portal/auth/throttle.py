"""Sign-in throttling (SPEC T3): attempts are counted in Redis before the password is checked.

Two counters, one atomic step (a Lua script): the address typed (known or
not, so the lock does not reveal which accounts exist; ``SIGNIN_MAX_FAILURES``)
and the client's IP address (one password sprayed over many accounts;
``SIGNIN_MAX_FAILURES_PER_CLIENT``). An attempt is counted first and the
slow password check runs only while both counts are within their limits,
so concurrent requests cannot overrun a limit: of 40 at once, 5 are checked.
A successful sign-in clears its address's count and takes its own attempt
back from the client's. Counts expire ``SIGNIN_LOCKOUT_SECONDS`` after the
last counted attempt. If Redis is unreachable, sign-in still works
(unthrottled) rather than locking everyone out; the failure is logged.
"""
import hashlib
import logging

from flask import current_app
from redis.exceptions import RedisError

from portal.queues import get_redis

log = logging.getLogger(__name__)

# KEYS: the address's counter, the client's; ARGV: their limits, the lockout seconds. Returns 1 when admitted.
_ADMIT = """
local admitted = 1
for i, key in ipairs(KEYS) do
  local count = redis.call('INCR', key)
  if count <= tonumber(ARGV[i]) then
    redis.call('EXPIRE', key, ARGV[3])
  else
    admitted = 0
  end
end
return admitted
"""
_SUCCEEDED = """
redis.call('DEL', KEYS[1])
if tonumber(redis.call('GET', KEYS[2]) or '0') > 0 then redis.call('DECR', KEYS[2]) end
return 1
"""


def _keys(email, client):
    digest = hashlib.sha256(email.encode("utf-8", "replace")).hexdigest()[:32]  # any length typed, one short key
    return [f"calbridge:signin-failures:{digest}", f"calbridge:signin-failures-client:{client or 'unknown'}"]


def admit(email, client):
    """Count this attempt; True when its password may be checked, False when the address or client is locked."""
    config = current_app.config
    try:
        return bool(get_redis().eval(_ADMIT, 2, *_keys(email, client), config["SIGNIN_MAX_FAILURES"],
                                     config["SIGNIN_MAX_FAILURES_PER_CLIENT"], config["SIGNIN_LOCKOUT_SECONDS"]))
    except RedisError as exc:
        log.warning("sign-in throttle unavailable: %s", exc)
        return True


def succeeded(email, client):
    try:
        get_redis().eval(_SUCCEEDED, 2, *_keys(email, client))
    except RedisError as exc:
        log.warning("sign-in throttle unavailable: %s", exc)
