"""The local stack: a private Redis, the Calendly sandbox, the portal, RQ.

``python -m portal.devstack`` is what ``make run`` starts: ``process_table``
lists every process it keeps running (what production must run too), and
``portal.supervisor`` restarts one that dies. The test suite and the
benchmarks use the same pieces (``RedisServer``, ``Service``,
``gunicorn_argv``) so that what is tested is what runs.
"""
import json
import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

from portal.supervisor import PROJECT_ROOT, ProcessSpec, Service, Supervisor, wait_for_http

__all__ = ["PROJECT_ROOT", "RedisServer", "Service", "WEB_THREADS", "WEB_WORKERS", "free_port", "gunicorn_argv", "live_argv", "process_table", "run_stack",
           "stack_env", "wait_for_http"]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RedisServer:
    """A private ``redis-server`` on its own port, without persistence."""

    def __init__(self, port=None, directory=None):
        self.port = port or free_port()
        self.directory = directory or tempfile.mkdtemp(prefix="calbridge-redis-")
        self.process = None

    @property
    def url(self):
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self):
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        if not os.path.exists(binary):
            raise RuntimeError("redis-server is not installed (make installs it: apt-get install redis-server)")
        os.makedirs(self.directory, exist_ok=True)
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", self.directory, "--logfile", os.path.join(self.directory, "redis.log")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"redis-server did not start on port {self.port}; see {self.directory}/redis.log")

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()


def local_credentials(instance_dir):
    """The OAuth client the portal and the sandbox share locally, made once."""
    path = os.path.join(instance_dir, "calendly-client.json")
    if not os.path.exists(path):
        os.makedirs(instance_dir, exist_ok=True)
        creds = {
            "client_id": "calbridge-" + secrets.token_hex(8),
            "client_secret": secrets.token_urlsafe(32),
            "webhook_signing_key": secrets.token_urlsafe(32),
        }
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(creds, f)
    with open(path) as f:
        return json.load(f)


def stack_env(*, portal_port, sandbox_port, redis_url, database_url, instance_dir, sandbox_db, creds,
              extra=None, host="127.0.0.1", live_port=None):
    """The environment every process of one stack shares (``live_port``: pages open their streams there)."""
    portal_base = f"http://{host}:{portal_port}"
    sandbox_base = f"http://{host}:{sandbox_port}"
    env = dict(os.environ)
    env.update(
        {
            "REDIS_URL": redis_url,
            "DATABASE_URL": database_url,
            "CALBRIDGE_INSTANCE_PATH": instance_dir,
            "CALBRIDGE_PORTAL_BASE_URL": portal_base,
            "CALBRIDGE_CALENDLY_API_BASE": sandbox_base,
            "CALBRIDGE_CALENDLY_AUTH_BASE": sandbox_base,
            "CALBRIDGE_CALENDLY_CLIENT_ID": creds["client_id"],
            "CALBRIDGE_CALENDLY_CLIENT_SECRET": creds["client_secret"],
            "CALBRIDGE_CALENDLY_WEBHOOK_SIGNING_KEY": creds["webhook_signing_key"],
            "SANDBOX_DATABASE": sandbox_db,
            "SANDBOX_BASE_URL": sandbox_base,
            "SANDBOX_OAUTH_CLIENTS": json.dumps(
                [
                    {
                        "name": "Calbridge",
                        "client_id": creds["client_id"],
                        "client_secret": creds["client_secret"],
                        "webhook_signing_key": creds["webhook_signing_key"],
                        "redirect_uris": [
                            f"{portal_base}/connections/calendly/callback",
                            f"http://localhost:{portal_port}/connections/calendly/callback",
                        ],
                    }
                ]
            ),
            "PYTHONUNBUFFERED": "1",
            # The local stack's webhook receivers are on this machine (issue 14's SSRF guard allows them).
            "CALBRIDGE_WEBHOOK_ALLOW_PRIVATE": "true",
        }
    )
    if live_port:
        env["CALBRIDGE_LIVE_STREAM_URL"] = f"http://{host}:{live_port}/live/stream"
    if extra:
        env.update(extra)
    return env


# ------------------------------------------------------------------ make run
def python_bin():
    return os.path.join(os.path.dirname(sys.executable), "python")


WEB_WORKERS, WEB_THREADS = 2, 4


def gunicorn_argv(bind, port, *extra, app="wsgi:app"):
    """gunicorn's command line: the one place it is built (``make run``, the tests, the benchmarks)."""
    return [os.path.join(os.path.dirname(sys.executable), "gunicorn"),
            "-c", os.path.join(PROJECT_ROOT, "portal", "gunicorn_conf.py"),  # masks webhook tokens in its logs
            "--workers", str(WEB_WORKERS), "--threads", str(WEB_THREADS), "--bind", f"{bind}:{port}",
            "--access-logfile", "-", *extra, app]


LIVE_CONNECTIONS = 2000  # open pages one live process holds (a stream is a greenlet, not a thread)


def live_argv(bind, port):
    """The live process: gunicorn with the gevent worker serving only the pages' event streams (live_wsgi.py)."""
    return [os.path.join(os.path.dirname(sys.executable), "gunicorn"),
            "-c", os.path.join(PROJECT_ROOT, "portal", "gunicorn_conf.py"),
            "--worker-class", "gevent", "--workers", "1", "--worker-connections", str(LIVE_CONNECTIONS),
            "--graceful-timeout", "3", "--bind", f"{bind}:{port}", "--access-logfile", "-", "live_wsgi:app"]


def _local_address(bind):
    return "127.0.0.1" if bind in ("0.0.0.0", "", "*") else bind


def process_table(*, portal_port, sandbox_port, bind="127.0.0.1", workers=2, mail_port=None, mail_dir=None,
                  live_port=None):
    """Every long-running process of ``make run``, in start order.

    Production runs the same rows but the sandbox and the mail catcher
    (deploy/systemd has one unit per row), beside a Redis, a database and an
    SMTP server of its own.
    """
    py = python_bin()
    catcher = [] if mail_port is None else [  # the local SMTP server: every email lands in mail_dir, none leaves
        ProcessSpec("mailcatcher", (py, "-m", "mailcatcher", "--port", str(mail_port), "--dir", mail_dir))]
    return [
        ProcessSpec("sandbox", (py, "-m", "sandbox", "--port", str(sandbox_port)),  # the Calendly emulator
                    health_url=f"http://127.0.0.1:{sandbox_port}/_sandbox/health"),
        *catcher,
        ProcessSpec("portal", tuple(gunicorn_argv(bind, portal_port)),  # the web app and the webhook intake
                    health_url=f"http://{_local_address(bind)}:{portal_port}/signin"),
        *([] if live_port is None else [  # the open pages' event streams
            ProcessSpec("live", tuple(live_argv(bind, live_port)),
                        health_url=f"http://{_local_address(bind)}:{live_port}/live/health")]),
        *(ProcessSpec(f"worker-{n}", (py, "-m", "jobs.worker")) for n in range(1, workers + 1)),  # RQ jobs
        ProcessSpec("scheduler", (py, "-m", "jobs.scheduler")),  # reconcile and inbox sweep, one per Redis
    ]


class _StopRequested(Exception):
    """SIGTERM or SIGINT reached the stack."""


def _stop_on_signal(signum, frame):
    raise _StopRequested(signal.Signals(signum).name)


def run_stack():
    """Bring everything up with demo data; SIGINT (Ctrl-C) or SIGTERM stops all of it (SPEC R1)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    os.umask(0o077)  # the database, keys and logs under instance/ are the operator's alone
    instance = os.environ.get("CALBRIDGE_INSTANCE_PATH") or os.path.join(PROJECT_ROOT, "instance")
    log_dir = os.path.join(instance, "logs")
    os.makedirs(log_dir, exist_ok=True)
    portal_port = int(os.environ.get("PORTAL_PORT", 5000))
    sandbox_port = int(os.environ.get("SANDBOX_PORT", 5001))
    mail_port = int(os.environ.get("MAIL_PORT", 1025))
    live_port = int(os.environ.get("LIVE_PORT", 5002))
    parent = os.getppid()  # make: if it goes (SIGTERM to make alone), so does the stack

    signal.signal(signal.SIGTERM, _stop_on_signal)
    signal.signal(signal.SIGINT, _stop_on_signal)
    redis = supervisor = None
    try:
        redis_url = os.environ.get("REDIS_URL")
        if not redis_url:
            redis = RedisServer(port=int(os.environ.get("REDIS_PORT", 6390)),
                                directory=os.path.join(instance, "redis")).start()
            redis_url = redis.url
        database_url = os.environ.get("DATABASE_URL") or "sqlite:///" + os.path.join(instance, "calbridge.db")
        env = stack_env(
            portal_port=portal_port, sandbox_port=sandbox_port, redis_url=redis_url, database_url=database_url,
            instance_dir=instance, sandbox_db=os.path.join(instance, "sandbox.db"),
            creds=local_credentials(instance), host="localhost", live_port=live_port,
            extra={"SANDBOX_DEMO": "1", "CALBRIDGE_SMTP_URL": os.environ.get("CALBRIDGE_SMTP_URL") or f"smtp://127.0.0.1:{mail_port}"},
        )
        # Both idempotent; the portal and the workers refuse to start on a schema not migrated.
        for command in ("migrate", "seed-demo"):
            subprocess.run([python_bin(), "-m", "flask", "--app", "wsgi", "admin", command], env=env,
                           cwd=PROJECT_ROOT, check=True)
        table = process_table(portal_port=portal_port, sandbox_port=sandbox_port,
                              bind=os.environ.get("PORTAL_BIND", "127.0.0.1"),
                              workers=int(os.environ.get("WORKERS", 2)),
                              mail_port=mail_port, mail_dir=os.path.join(instance, "mail"), live_port=live_port)
        supervisor = Supervisor(table, env, log_dir, instance)
        supervisor.start()
        print("\n".join(banner_lines(env["CALBRIDGE_PORTAL_BASE_URL"], env["SANDBOX_BASE_URL"], redis_url,
                                      database_url, log_dir, os.path.join(instance, "mail"))), flush=True)
        supervisor.run(should_stop=lambda: os.getppid() != parent)
        print("\nThe parent process is gone: stopping Calbridge...", flush=True)
        return 0
    except _StopRequested as stop:
        print(f"\nStopping Calbridge ({stop})...", flush=True)
        return 0
    finally:
        # A second Ctrl-C must not cut the clean-up short and leave orphans.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        if supervisor is not None:
            supervisor.stop()
        if redis:
            redis.stop()


def banner_lines(portal_url, sandbox_url, redis_url, database_url, log_dir, mail_dir):
    """What ``make run`` prints once everything is up: the one portal URL to open first."""
    from portal.demo import DEMO_PASSWORD, DEMO_USERS
    from sandbox.demo import DEMO_ACCOUNTS

    lines = [
        "",
        "Calbridge is running.",
        f"  Open the portal at {portal_url}",
        "  (its other addresses on this machine, such as 127.0.0.1 for localhost, send you there:",
        "   the Calendly sign-in comes back to this one)",
        f"  Calendly sandbox:  {sandbox_url}",
        f"  Redis:             {redis_url}",
        f"  Database:          {database_url}",
        f"  Logs:              {log_dir}",
        f"  Emails sent:       Sent emails in the portal (admins); the files in {mail_dir}",
        "",
        f"Portal sign-ins (password {DEMO_PASSWORD}):",
    ]
    lines += [f"  {u['email']:<28} {u['description']}" for u in DEMO_USERS]
    lines += ["", "Calendly sandbox accounts (for Connect):"]
    lines += [f"  {a['email']:<28} password {a['password']:<16} {a['description']}" for a in DEMO_ACCOUNTS]
    lines += ["", "A process that dies is restarted on its own; press Ctrl-C to stop everything.", ""]
    return lines


if __name__ == "__main__":
    sys.exit(run_stack())
