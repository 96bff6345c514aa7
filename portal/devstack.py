"""The local stack: a private Redis, the Calendly sandbox, the portal, RQ.

``python -m portal.devstack`` is what ``make run`` starts; the test suite
and the benchmarks use the same pieces (``RedisServer``, ``Service``) so
that what is tested is what runs.
"""
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_http(url, timeout=20.0, process=None):
    """Poll ``url`` until it answers (any status below 500)."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"process for {url} exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status < 500:
                    return
        except urllib.error.HTTPError as exc:
            if exc.code < 500:
                return
            last = exc
        except OSError as exc:
            last = exc
        time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer within {timeout}s: {last}")


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


class Service:
    """A child process of the stack, with its output sent to a log file."""

    def __init__(self, name, argv, env, log_dir, health_url=None):
        self.name, self.argv, self.env, self.health_url = name, argv, env, health_url
        self.log_path = os.path.join(log_dir, f"{name}.log")
        self.process = None

    def start(self, wait=True):
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            self.argv, env=self.env, stdout=log, stderr=subprocess.STDOUT, cwd=PROJECT_ROOT,
            start_new_session=True,
        )
        if wait and self.health_url:
            wait_for_http(self.health_url, process=self.process)
        return self

    def stop(self, sig=signal.SIGTERM, timeout=10):
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


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
              extra=None, host="127.0.0.1"):
    """The environment every process of one stack shares."""
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
        }
    )
    if extra:
        env.update(extra)
    return env


# ------------------------------------------------------------------ make run
def python_bin():
    return os.path.join(os.path.dirname(sys.executable), "python")


def run_stack():
    """Bring everything up with demo data; Ctrl-C stops all of it (SPEC R1)."""
    instance = os.environ.get("CALBRIDGE_INSTANCE_PATH") or os.path.join(PROJECT_ROOT, "instance")
    log_dir = os.path.join(instance, "logs")
    os.makedirs(log_dir, exist_ok=True)
    portal_port = int(os.environ.get("PORTAL_PORT", 5000))
    sandbox_port = int(os.environ.get("SANDBOX_PORT", 5001))
    workers = int(os.environ.get("WORKERS", 2))

    redis = None
    redis_url = os.environ.get("REDIS_URL")
    if not redis_url:
        redis = RedisServer(port=int(os.environ.get("REDIS_PORT", 6390)),
                            directory=os.path.join(instance, "redis")).start()
        redis_url = redis.url
    database_url = os.environ.get("DATABASE_URL") or "sqlite:///" + os.path.join(instance, "calbridge.db")
    env = stack_env(
        portal_port=portal_port, sandbox_port=sandbox_port, redis_url=redis_url, database_url=database_url,
        instance_dir=instance, sandbox_db=os.path.join(instance, "sandbox.db"),
        creds=local_credentials(instance), extra={"SANDBOX_DEMO": "1"}, host="localhost",
    )
    py = python_bin()
    services = []
    try:
        # Both idempotent; the portal and the workers refuse to start on a schema not migrated.
        for command in ("migrate", "seed-demo"):
            subprocess.run([py, "-m", "flask", "--app", "wsgi", "admin", command], env=env, cwd=PROJECT_ROOT,
                           check=True)
        services.append(Service("sandbox", [py, "-m", "sandbox", "--port", str(sandbox_port)], env, log_dir,
                                health_url=f"http://127.0.0.1:{sandbox_port}/_sandbox/health").start())
        services.append(Service(
            "portal",
            [os.path.join(os.path.dirname(sys.executable), "gunicorn"), "--workers", "2", "--threads", "4",
             "--bind", f"0.0.0.0:{portal_port}", "--access-logfile", "-", "wsgi:app"],
            env, log_dir, health_url=f"http://127.0.0.1:{portal_port}/signin").start())
        for n in range(workers):
            services.append(Service(f"worker-{n + 1}", [py, "-m", "jobs.worker"], env, log_dir).start(wait=False))
        services.append(Service("scheduler", [py, "-m", "jobs.scheduler"], env, log_dir).start(wait=False))
        _print_banner(portal_port, sandbox_port, redis_url, database_url, log_dir)
        while all(s.process.poll() is None for s in services):
            time.sleep(1)
        dead = [s.name for s in services if s.process.poll() is not None]
        print(f"\nStopped because {', '.join(dead)} exited; see {log_dir}.", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nStopping Calbridge...")
        return 0
    finally:
        for service in reversed(services):
            service.stop()
        if redis:
            redis.stop()


def _print_banner(portal_port, sandbox_port, redis_url, database_url, log_dir):
    from portal.demo import DEMO_PASSWORD, DEMO_USERS
    from sandbox.demo import DEMO_ACCOUNTS

    lines = [
        "",
        "Calbridge is running.",
        f"  Portal:            http://localhost:{portal_port}",
        f"  Calendly sandbox:  http://localhost:{sandbox_port}",
        f"  Redis:             {redis_url}",
        f"  Database:          {database_url}",
        f"  Logs:              {log_dir}",
        "",
        f"Portal sign-ins (password {DEMO_PASSWORD}):",
    ]
    lines += [f"  {u['email']:<28} {u['description']}" for u in DEMO_USERS]
    lines += ["", "Calendly sandbox accounts (for Connect):"]
    lines += [f"  {a['email']:<28} password {a['password']:<16} {a['description']}" for a in DEMO_ACCOUNTS]
    lines += ["", "Press Ctrl-C to stop everything.", ""]
    print("\n".join(lines), flush=True)


if __name__ == "__main__":
    sys.exit(run_stack())
