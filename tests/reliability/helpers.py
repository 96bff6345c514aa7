"""Helpers of the reliability suite: processes it can kill, counts it can trust, secrets it looks for.

- ``Processes``: RQ workers and a gunicorn portal as real subprocesses of
  ``portal.devstack.Service``, on the test stack's environment with
  ``REDIS_URL`` (and the portal's own URL) overridden; stopped, killed and
  restarted by the test;
- ``tally``: appointments, lost and duplicated for a set of Calendly bookings;
- ``Secrets`` / ``redis_texts`` / ``leaks``: every secret the stack holds and
  every place one must never show up.
"""
import os
import signal
import sys
import time
import zlib
from datetime import timedelta

from portal.devstack import Service, free_port, gunicorn_argv
from portal.extensions import db
from portal.models import Appointment, CalendlyConnection, Outcome, SyncDecision, WebhookDelivery
from portal.timeutil import to_iso, utcnow

# The sandbox's sign-in and consent pages, driven like a browser (shared with the Calendly client tests).
sys.path.insert(0, os.path.join(os.path.dirname(__file__), os.pardir, "calendly"))
import calendly_oauth_flow  # noqa: E402

authorize = calendly_oauth_flow.authorize

BIN = os.path.dirname(os.sys.executable)


def python():
    return os.path.join(BIN, "python")


def soon(days=2, minutes=0):
    """A whole-minute start time in the future (sandbox slots start on the minute)."""
    at = utcnow() + timedelta(days=days, minutes=minutes)
    return to_iso(at.replace(second=0, microsecond=0))


class Booker:
    """Books guests into one sandbox calendar, each in its own slot, and remembers the invitee URIs."""

    def __init__(self, sandbox, event_type_uri, prefix="guest", days=3):
        self.sandbox, self.event_type_uri, self.prefix, self.days = sandbox, event_type_uri, prefix, days
        self.uris = []

    def book(self, count=1):
        made = []
        for _ in range(count):
            n = len(self.uris)
            made.append(self.sandbox.book(self.event_type_uri, soon(self.days, minutes=30 * n),
                                          f"{self.prefix.title()} {n}", f"{self.prefix}{n}@example.com"))
            self.uris.append(made[-1]["invitee"])
        return made


def url_for_rule(rule, ids):
    """A URL of ``rule`` with its arguments taken from ``ids``; an unknown argument fails loudly."""
    values = {}
    for name in rule.arguments:
        if name not in ids:
            raise AssertionError(f"{rule.rule}: which object does <{name}> name? Add it to this test.")
        values[name] = ids[name]
    return rule.build(values, append_unknown=False)[1]


# ---------------------------------------------------------------- processes
class Processes:
    """Workers and portals this test starts; all of them are stopped at teardown."""

    def __init__(self, stack, log_dir):
        self.stack, self.log_dir = stack, str(log_dir)
        self.started = []

    def env(self, redis_url, **extra):
        env = dict(self.stack["env"], REDIS_URL=redis_url)
        env.update({k: str(v) for k, v in extra.items()})
        return env

    def worker(self, redis_url, name, **extra):
        service = Service(name, [python(), "-m", "jobs.worker", "--name", name],
                          self.env(redis_url, **extra), self.log_dir).start(wait=False)
        self.started.append(service)
        return service

    def portal(self, redis_url, port=None, name="portal", **extra):
        """gunicorn serving ``wsgi:app`` like ``make run``; its PORTAL_BASE_URL is its own address."""
        port = port or free_port()
        url = f"http://127.0.0.1:{port}"
        env = self.env(redis_url, CALBRIDGE_PORTAL_BASE_URL=url, **extra)
        argv = gunicorn_argv("127.0.0.1", port, "--graceful-timeout", "2")
        service = Service(name, argv, env, self.log_dir, health_url=url + "/signin").start()
        service.port, service.url = port, url
        self.started.append(service)
        return service

    def restart(self, service):
        service.start()
        return service

    @staticmethod
    def kill(service):
        """SIGKILL: no cleanup, no goodbye, exactly like the OOM killer."""
        os.killpg(service.process.pid, signal.SIGKILL)
        service.process.wait(10)

    def logs(self):
        """Every log file of the processes started, as text."""
        out = {}
        for service in self.started:
            if os.path.exists(service.log_path):
                with open(service.log_path, errors="replace") as f:
                    out[os.path.basename(service.log_path)] = f.read()
        return out

    def stop_all(self):
        for service in reversed(self.started):
            service.stop(timeout=5)


# ---------------------------------------------------------------- waiting
def wait_until(predicate, timeout, interval=0.1, message="condition", tick=None, describe=None):
    """Poll ``predicate`` in a fresh DB connection; ``tick`` runs between polls (a scheduler's beat).

    ``describe`` adds what the system looked like to a timeout's message.
    """
    deadline = time.monotonic() + timeout
    last = None
    while True:
        with db.connection_context():
            last = predicate()
        if last:
            return last
        if time.monotonic() > deadline:
            seen = ""
            if describe is not None:
                with db.connection_context():
                    seen = f"; {describe()}"
            raise AssertionError(f"timed out after {timeout}s waiting for {message} (last: {last!r}{seen})")
        if tick is not None:
            tick()
        time.sleep(interval)


# ---------------------------------------------------------------- counting
def tally(invitee_uris):
    """``{"appointments", "lost", "duplicated", "missing"}`` for bookings that must each be imported once.

    Duplicated counts imports recorded more than once for the same booking
    (W6): the ``SyncDecision`` rows of outcome "imported". Appointment rows
    are not counted: the unique index on ``Appointment`` (subaccount, invitee_uri) makes a
    second row for one booking impossible, so such a count would always be 0.
    """
    uris = list(dict.fromkeys(invitee_uris))
    with db.connection_context():
        rows = [a.invitee_uri for a in Appointment.select(Appointment.invitee_uri).where(
            Appointment.invitee_uri.in_(uris))] if uris else []
        imports = {}
        for d in SyncDecision.select(SyncDecision.invitee_uri).where(
                SyncDecision.invitee_uri.in_(uris) & (SyncDecision.outcome == Outcome.IMPORTED)) if uris else []:
            imports[d.invitee_uri] = imports.get(d.invitee_uri, 0) + 1
    present = set(rows)
    missing = [u for u in uris if u not in present]
    duplicated = sum(n - 1 for n in imports.values() if n > 1)
    return {"appointments": len(rows), "lost": len(missing), "duplicated": duplicated, "missing": missing}


def delivery_states():
    with db.connection_context():
        out = {}
        for d in WebhookDelivery.select(WebhookDelivery.state, WebhookDelivery.error):
            out[d.state] = out.get(d.state, 0) + 1
            if d.error:  # a failed delivery's reason belongs in the timeout message
                out.setdefault("errors", set()).add(d.error[:300])
        return out


# ---------------------------------------------------------------- secrets
class Secrets:
    """Every secret value seen during a test: app credentials, keys, OAuth tokens, signing keys."""

    def __init__(self, stack, app):
        self.values = {}
        creds = stack["creds"]
        self.add("OAuth client secret", creds["client_secret"])
        self.add("app webhook signing key", creds["webhook_signing_key"])
        self.add("session secret key", app.config["SECRET_KEY"])
        self.add("encryption key", app.config["ENCRYPTION_KEY"])

    def add(self, label, value):
        if value and len(value) >= 8:
            self.values.setdefault(value, label)

    def from_connections(self):
        """Tokens and signing keys currently stored (call it whenever tokens may have rotated)."""
        with db.connection_context():
            for c in CalendlyConnection.select():
                self.add(f"access token of connection {c.id}", c.access_token)
                self.add(f"refresh token of connection {c.id}", c.refresh_token)
                self.add(f"signing key of connection {c.id}", c.signing_key)
        return self

    def add_token_response(self, token):
        self.add("OAuth access token", token.get("access_token"))
        self.add("OAuth refresh token", token.get("refresh_token"))


def leaks(secrets, texts):
    """``[(where, what)]`` for every secret value found in ``texts`` (a mapping of place -> text)."""
    found = []
    for where, text in texts.items():
        for value, label in secrets.values.items():
            if value in text:
                found.append((where, label))
    return found


def _text(value):
    if isinstance(value, bytes):
        try:
            value = zlib.decompress(value)  # RQ stores job data as zlib-compressed pickle
        except zlib.error:
            pass
        return value.decode("latin-1")
    return str(value)


def redis_texts(redis):
    """Every key of a Redis database as text: hashes (job data decompressed), lists, sets, streams."""
    out = {}
    for key in redis.scan_iter(count=1000):
        kind = redis.type(key).decode()
        name = key.decode(errors="replace")
        if kind == "hash":
            parts = [f"{_text(k)}={_text(v)}" for k, v in redis.hgetall(key).items()]
        elif kind == "string":
            parts = [_text(redis.get(key) or b"")]
        elif kind == "list":
            parts = [_text(v) for v in redis.lrange(key, 0, -1)]
        elif kind == "set":
            parts = [_text(v) for v in redis.smembers(key)]
        elif kind == "zset":
            parts = [_text(v) for v in redis.zrange(key, 0, -1)]
        elif kind == "stream":
            parts = [f"{_text(k)}={_text(v)}" for _, fields in redis.xrange(key) for k, v in fields.items()]
        else:
            parts = []
        out[f"redis {name}"] = "\n".join(parts)
    return out


def job_arguments(redis, queue_names=("sync", "default", "bulk")):
    """``{job id: repr(args, kwargs, description)}`` of every job RQ still knows."""
    from rq import Queue
    from rq.job import Job

    ids = set()
    for name in queue_names:
        queue = Queue(name, connection=redis)
        ids.update(queue.get_job_ids())
        for registry in (queue.started_job_registry, queue.finished_job_registry, queue.failed_job_registry,
                         queue.scheduled_job_registry, queue.deferred_job_registry):
            ids.update(registry.get_job_ids())
    out = {}
    for job in Job.fetch_many(sorted(ids), connection=redis):
        if job is not None:
            out[f"job {job.id}"] = repr((job.func_name, job.args, job.kwargs, job.description, job.meta))
    return out
