"""The stack under test, built from ``portal.devstack``'s pieces (what ``make run`` runs).

A private Redis, the Calendly sandbox, gunicorn serving the portal (the
same command line as ``make run``, plus the empty reference route of
``benchmarks.wsgi``) and RQ workers started and stopped per step, all on
loopback, with their data in a throw-away directory.
"""
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from cryptography.fernet import Fernet

from portal.database import migrate_url
from portal.devstack import PROJECT_ROOT, RedisServer, Service, free_port, gunicorn_argv, live_argv, stack_env


def bin_path(name):
    return os.path.join(os.path.dirname(sys.executable), name)


def peak_rss_mb(pid):
    """The peak resident set size (VmHWM) of a live process, in MiB; None if it is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


def children(pid):
    """Direct child pids of ``pid`` (gunicorn's workers under its master)."""
    found = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                found += [int(p) for p in f.read().split()]
    except OSError:
        pass
    return found


class Stack:
    """Processes of one bench run; ``peaks`` keeps the highest VmHWM seen per role."""

    def __init__(self, workdir, database_url=None):
        self.dir = workdir
        self.log_dir = os.path.join(workdir, "logs")
        self.instance = os.path.join(workdir, "instance")
        os.makedirs(self.log_dir, exist_ok=True)
        os.makedirs(self.instance, exist_ok=True)
        self.redis = RedisServer(directory=os.path.join(workdir, "redis"))
        os.makedirs(self.redis.directory, exist_ok=True)
        self.portal_port, self.sandbox_port, self.live_port = free_port(), free_port(), free_port()
        self.database_url = database_url or "sqlite:///" + os.path.join(workdir, "portal.db")
        self.creds = {"client_id": "calbridge-bench", "client_secret": secrets.token_urlsafe(24),
                      "webhook_signing_key": secrets.token_urlsafe(24)}
        self.secrets = {"CALBRIDGE_SECRET_KEY": secrets.token_hex(32),
                        "CALBRIDGE_ENCRYPTION_KEY": Fernet.generate_key().decode()}
        self.sandbox_db = os.path.join(workdir, "sandbox.db")
        self.sandbox = None
        self.live = None
        self.webs = {}
        self.workers = []
        self.peaks = {"worker": None, "web": None}
        self.peaks_by_process = {}  # "web" / "web-postgresql" / "worker": highest VmHWM seen
        self._started = False

    # ------------------------------------------------------------ environment
    def env(self, database_url=None, portal_port=None):
        env = stack_env(
            portal_port=portal_port or self.portal_port, sandbox_port=self.sandbox_port,
            redis_url=self.redis.url, database_url=database_url or self.database_url,
            instance_dir=self.instance, sandbox_db=self.sandbox_db, creds=self.creds,
            extra=dict(self.secrets), live_port=self.live_port,
        )
        env["PYTHONPATH"] = PROJECT_ROOT + os.pathsep + env.get("PYTHONPATH", "")
        return env

    @property
    def portal_url(self):
        return f"http://127.0.0.1:{self.portal_port}"

    @property
    def sandbox_url(self):
        return f"http://127.0.0.1:{self.sandbox_port}"

    def app_config(self, database_url=None):
        """``create_app`` settings for the bench process itself (it reads and seeds the same database)."""
        env = self.env(database_url)
        return {
            "INSTANCE_PATH": self.instance,
            "DATABASE_URL": database_url or self.database_url,
            "REDIS_URL": self.redis.url,
            "SECRET_KEY": self.secrets["CALBRIDGE_SECRET_KEY"],
            "ENCRYPTION_KEY": self.secrets["CALBRIDGE_ENCRYPTION_KEY"],
            "PORTAL_BASE_URL": env["CALBRIDGE_PORTAL_BASE_URL"],
            "CALENDLY_API_BASE": self.sandbox_url,
            "CALENDLY_AUTH_BASE": self.sandbox_url,
            "CALENDLY_CLIENT_ID": self.creds["client_id"],
            "CALENDLY_CLIENT_SECRET": self.creds["client_secret"],
            "CALENDLY_WEBHOOK_SIGNING_KEY": self.creds["webhook_signing_key"],
        }

    # ------------------------------------------------------------ lifecycle
    def start(self):
        self.redis.start()
        self._started = True
        self.sandbox = Service(
            "sandbox", [bin_path("python"), "-m", "sandbox", "--port", str(self.sandbox_port)],
            self.env(), self.log_dir, health_url=self.sandbox_url + "/_sandbox/health",
        ).start()
        migrate_url(self.database_url)  # as `make run` does, before the portal and the workers open it
        self.start_web()
        self.live = Service("live", live_argv("127.0.0.1", self.live_port), self.env(), self.log_dir,
                            health_url=f"http://127.0.0.1:{self.live_port}/live/health").start()
        return self

    def start_web(self, name="web", database_url=None, port=None):
        """gunicorn as ``make run`` starts it, serving ``benchmarks.wsgi:app``."""
        port = port or self.portal_port
        service = Service(
            name,
            gunicorn_argv("127.0.0.1", port, app="benchmarks.wsgi:app"),
            self.env(database_url, portal_port=port), self.log_dir,
            health_url=f"http://127.0.0.1:{port}/signin",
        ).start()
        self.webs[name] = service
        return service

    def stop_web(self, name):
        service = self.webs.pop(name, None)
        if service is not None:
            self._note_web_peak(service)
            service.stop()

    def start_workers(self, count, database_url=None):
        """``count`` RQ workers (``python -m jobs.worker``, as ``make run``); returns once they listen."""
        started = []
        for _ in range(count):
            n = len(self.workers) + 1
            service = Service(f"worker-{n}", [bin_path("python"), "-m", "jobs.worker", "--name", f"bench-{n}-"
                                              + secrets.token_hex(3)],
                              self.env(database_url), self.log_dir).start(wait=False)
            self.workers.append(service)
            started.append(service)
        self._wait_for_workers(len(self.workers))
        return started

    def _wait_for_workers(self, count, timeout=60):
        from redis import Redis
        from rq import Worker

        redis = Redis.from_url(self.redis.url)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for w in self.workers:
                if w.process.poll() is not None:
                    raise RuntimeError(f"{w.name} exited; see {w.log_path}")
            if len(Worker.all(connection=redis)) >= count:
                return
            time.sleep(0.1)
        raise TimeoutError("RQ workers did not register")

    def stop_workers(self):
        for service in self.workers:
            self._note_peak("worker", service.process.pid)
            service.stop()
        self.workers = []

    def _note_peak(self, role, pid, name=None):
        mb = peak_rss_mb(pid)
        if mb is None:
            return
        if self.peaks[role] is None or mb > self.peaks[role]:
            self.peaks[role] = mb
        name = name or role
        self.peaks_by_process[name] = max(mb, self.peaks_by_process.get(name) or 0)

    def _note_web_peak(self, service):
        for pid in children(service.process.pid):
            self._note_peak("web", pid, service.name)

    def note_peaks(self):
        """Read the peak RSS of every running worker and web process now."""
        for service in self.workers:
            self._note_peak("worker", service.process.pid)
        for service in self.webs.values():
            self._note_web_peak(service)
        return dict(self.peaks)

    def stop(self):
        if not self._started:
            return
        self.note_peaks()
        self.stop_workers()
        for name in list(self.webs):
            self.stop_web(name)
        if self.live is not None:
            self.live.stop()
        if self.sandbox is not None:
            self.sandbox.stop()
        self.redis.stop()
        self._started = False

    def log_offset(self, service):
        try:
            return os.path.getsize(service.log_path)
        except OSError:
            return 0

    def read_log(self, service, offset):
        with open(service.log_path, "rb") as f:
            f.seek(offset)
            return f.read().decode("utf-8", errors="replace")


class Postgres:
    """A throw-away PostgreSQL cluster (initdb + pg_ctl as the ``postgres`` user)."""

    def __init__(self, workdir=None):
        # Its own directory: the bench's work directory is private to root, and the server runs as postgres.
        self.dir = tempfile.mkdtemp(prefix="calbridge-bench-pg-")
        os.chmod(self.dir, 0o755)
        self.data = os.path.join(self.dir, "data")
        self.port = free_port()
        self.started = False

    @property
    def url(self):
        return f"postgresql://postgres@127.0.0.1:{self.port}/calbridge"

    def _as_postgres(self, argv, **kwargs):
        if os.geteuid() == 0:
            argv = ["runuser", "-u", "postgres", "--", *argv]
        return subprocess.run(argv, check=True, capture_output=True, text=True, timeout=60, **kwargs)

    def start(self):
        """Start the cluster; raises ``RuntimeError`` with the reason when it cannot."""
        initdb = shutil.which("initdb") or _pg_binary("initdb")
        pg_ctl = shutil.which("pg_ctl") or _pg_binary("pg_ctl")
        if not initdb or not pg_ctl:
            raise RuntimeError("PostgreSQL's initdb/pg_ctl are not installed")
        os.makedirs(self.dir, exist_ok=True)
        if os.geteuid() == 0:
            subprocess.run(["chown", "-R", "postgres", self.dir], check=True)
        self._pg_ctl = pg_ctl
        try:
            self._as_postgres([initdb, "-D", self.data, "-U", "postgres", "--auth=trust", "-E", "UTF8",
                               "--no-sync"])
            self._as_postgres([pg_ctl, "-D", self.data, "-l", os.path.join(self.dir, "server.log"), "-w",
                               "-o", f"-p {self.port} -k {self.dir} -c fsync=off -c synchronous_commit=off"
                                     " -c full_page_writes=off", "start"])
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired, FileNotFoundError) as exc:
            detail = getattr(exc, "stderr", "") or str(exc)
            raise RuntimeError(f"PostgreSQL did not start: {detail.strip()[:300]}") from exc
        self.started = True
        self._as_postgres([_pg_binary("createdb") or "createdb", "-h", self.dir, "-p", str(self.port),
                           "-U", "postgres", "calbridge"])
        return self

    def postmaster_pid(self):
        """The server's pid (pg_ctl daemonises it, so it is not the bench's child); None before it runs."""
        try:
            with open(os.path.join(self.data, "postmaster.pid")) as f:
                return int(f.readline())
        except (OSError, ValueError):
            return None

    def stop(self):
        if self.started:
            try:
                self._as_postgres([self._pg_ctl, "-D", self.data, "-m", "immediate", "stop"])
            except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
                pass
            self.started = False
        shutil.rmtree(self.dir, ignore_errors=True)


def _pg_binary(name):
    import glob

    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found[-1] if found else None


def interrupt_safe_stop(*things):
    """Stop everything even if Ctrl-C arrives again while stopping."""
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        for thing in things:
            if thing is not None:
                try:
                    thing.stop()
                except Exception as exc:  # keep stopping the rest
                    print(f"  (could not stop {thing!r}: {exc})", file=sys.stderr)
    finally:
        signal.signal(signal.SIGINT, previous)
