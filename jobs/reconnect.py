"""Riding out Redis outages: the worker and the scheduler wait for Redis and carry on by themselves.

RQ retries a lost connection only while a worker waits for a job; anywhere
else (a job's bookkeeping, maintenance, ``register_death``, the cron
scheduler's heartbeat) a ``ConnectionError`` ends ``work()`` or ``start()``.
``run_reconnecting`` runs the loop again once Redis answers, with backoff.
"""
import logging
import os
import signal
import socket
import time

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.exceptions import WatchError
from rq.exceptions import StopRequested

from portal.backoff import Backoff

REDIS_DOWN = (RedisConnectionError, RedisTimeoutError)
log = logging.getLogger("calbridge.reconnect")


class StopFlag:
    """Set by SIGTERM/SIGINT, whichever handler (ours between runs, RQ's during one) received it."""

    def __init__(self):
        self.requested = False

    def set(self):
        self.requested = True

    def install(self):
        """Our handlers for the time between two runs: stop at once."""
        def handler(signum, frame):
            self.set()
            raise StopRequested()
        signal.signal(signal.SIGTERM, handler)
        signal.signal(signal.SIGINT, handler)


def wait_for_redis(redis, stop, backoff):
    """Block until Redis answers a PING; False if a stop was requested meanwhile."""
    while not stop.requested:
        try:
            redis.ping()
            return True
        except REDIS_DOWN as exc:
            delay = backoff.delay()
            log.warning("Redis is unreachable (%s); trying again in %.0f s", exc, delay)
            time.sleep(delay)
    return False


def run_reconnecting(run, redis, what):
    """Call ``run(stop)`` until it ends for a reason other than Redis going away; the process's exit code.

    ``run`` returning after a stop request is a clean exit (0); returning
    without one means RQ gave up on an error of its own (1: the supervisor
    restarts the process).
    """
    stop = StopFlag()
    backoff = Backoff(first=1.0, cap=15.0, stable=60.0)
    while True:
        stop.install()
        try:
            if not wait_for_redis(redis, stop, backoff):
                return 0
            backoff.began()
            run(stop)
            if stop.requested:
                return 0
            log.error("%s stopped on an error (see above); exiting for the supervisor to restart it", what)
            return 1
        except StopRequested:
            return 0
        except REDIS_DOWN as exc:
            if stop.requested:
                return 0
            log.warning("%s lost Redis (%s); waiting for it to come back", what, exc)


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clear_stale_registration(worker):
    """Mark dead a worker of the same name that ended without saying so (kill -9, or Redis gone).

    RQ refuses to register a name whose previous holder has no death date;
    a holder on this host whose pid is ours (the run before a reconnect) or
    no longer alive is certainly dead.
    """
    hostname, pid, death = worker.connection.hmget(worker.key, "hostname", "pid", "death")
    if pid is None or death is not None or (hostname or b"").decode() != socket.gethostname():
        return
    pid = int(pid)
    if pid == os.getpid() or not _alive(pid):
        worker.register_death()


def _running(pid):
    """Alive and not a zombie (a killed worker's scheduler child may wait unreaped under PID 1)."""
    if not _alive(pid):
        return False
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True  # no /proc: trust the signal check


def release_dead_scheduler_locks(connection, queue_names):
    """Free the scheduling locks of a scheduler on this host that was killed (kill -9).

    RQ keeps a queue's scheduler lock for a minute after its holder stops
    refreshing it, and a new worker looks again only every two minutes: a
    restart after a kill would leave scheduled jobs (workflow Waits, step
    retries) late by up to three minutes.
    """
    from rq.scheduler import SCHEDULER_KEY_TEMPLATE, RQScheduler

    for name in queue_names:
        key = RQScheduler.get_locking_key(name)
        holder = connection.get(key)
        if holder is None:
            continue
        hostname, pid = connection.hmget(SCHEDULER_KEY_TEMPLATE % holder.decode(), "hostname", "pid")
        if pid is None or (hostname or b"").decode() != socket.gethostname():
            continue
        if not _running(int(pid)):
            # Only if it still names the dead holder (another worker may have taken it meanwhile).
            with connection.pipeline() as pipe:
                try:
                    pipe.watch(key)
                    if pipe.get(key) == holder:
                        pipe.multi()
                        pipe.delete(key)
                        pipe.execute()
                except WatchError:  # someone took the lock meanwhile: theirs now
                    pass
