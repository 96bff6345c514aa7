"""Runs the stack's processes, each in its own process group; restarts one that dies; stops them all.

Hand-written because honcho and foreman stop everything when one process
exits, and supervisord is a daemon with a config of its own; in production
systemd does this job (deploy/systemd: Restart=on-failure, RestartSec).
"""
import logging
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass

from portal import restarts
from portal.backoff import Backoff

PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
log = logging.getLogger("calbridge.supervisor")


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


def _kill_group(pgid, sig):
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


class Service:
    """A child process of the stack in a process group of its own, with its output sent to a log file."""

    def __init__(self, name, argv, env, log_dir, health_url=None):
        self.name, self.argv, self.env, self.health_url = name, argv, env, health_url
        self.log_path = os.path.join(log_dir, f"{name}.log")
        self.process = None
        self._group_swept = False

    def start(self, wait=True):
        with open(self.log_path, "ab") as log_file:
            self.process = subprocess.Popen(
                self.argv, env=self.env, stdout=log_file, stderr=subprocess.STDOUT, cwd=PROJECT_ROOT,
                start_new_session=True,
            )
        self._group_swept = False
        if wait and self.health_url:
            wait_for_http(self.health_url, process=self.process)
        return self

    def running(self):
        return self.process is not None and self.process.poll() is None

    def terminate(self, sig=signal.SIGTERM):
        """Ask the whole group to stop (gunicorn's workers, RQ's scheduler child)."""
        if self.running():
            _kill_group(self.process.pid, sig)

    def reap(self, timeout=10):
        """Wait for the group leader; SIGKILL the group if it is late; kill whatever it left behind."""
        if self.process is None:
            return
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            _kill_group(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self.sweep_group()

    def sweep_group(self):
        """SIGKILL what an exited leader left in its group (once: its pid may be reused later)."""
        if self.process is not None and self.process.poll() is not None and not self._group_swept:
            _kill_group(self.process.pid, signal.SIGKILL)
            self._group_swept = True

    def stop(self, sig=signal.SIGTERM, timeout=10):
        if self.running():
            self.terminate(sig)
            self.reap(timeout)


@dataclass(frozen=True)
class ProcessSpec:
    """One row of the process table: a name, its command line, and the URL that answers once it is up."""
    name: str
    argv: tuple
    health_url: str | None = None


def exit_description(returncode):
    if returncode < 0:
        try:
            return signal.Signals(-returncode).name
        except ValueError:
            return f"signal {-returncode}"
    return f"exit code {returncode}"


class _Child:
    def __init__(self, service):
        self.service = service
        self.backoff = Backoff(first=1.0, cap=30.0, stable=60.0)
        self.restart_at = None  # when a dead child is due to start again
        self.exit = None  # how it ended last


class Supervisor:
    """Starts every row of a process table and keeps each one running on its own."""

    def __init__(self, specs, env, log_dir, instance_dir, poll_interval=0.25):
        self.children = [_Child(Service(s.name, list(s.argv), env, log_dir, s.health_url)) for s in specs]
        self.instance_dir, self.poll_interval = instance_dir, poll_interval

    def start(self):
        restarts.reset(self.instance_dir)
        for child in self.children:
            child.service.start()
            child.backoff.began()
        return self

    @property
    def services(self):
        return [c.service for c in self.children]

    def pids(self):
        return {c.service.name: c.service.process.pid for c in self.children if c.service.running()}

    def check(self):
        """Restart what died, once its backoff has passed; the others carry on untouched."""
        now = time.monotonic()
        for child in self.children:
            service = child.service
            if service.running():
                continue
            if child.restart_at is None:
                service.sweep_group()  # e.g. the RQ scheduler child of a killed worker
                child.exit = exit_description(service.process.returncode)
                delay = child.backoff.delay()
                child.restart_at = now + delay
                log.warning("%s exited (%s); restarting it in %.0f s", service.name, child.exit, delay)
            elif now >= child.restart_at:
                restarts.record(self.instance_dir, service.name, child.exit)
                service.start(wait=False)
                child.backoff.began()
                child.restart_at = None
                log.warning("%s restarted (pid %d)", service.name, service.process.pid)

    def run(self, should_stop):
        """Watch the children until ``should_stop()`` says so."""
        while not should_stop():
            self.check()
            time.sleep(self.poll_interval)

    def stop(self, timeout=10):
        """SIGTERM every group at once, then wait for each (SIGKILL after ``timeout``)."""
        for child in reversed(self.children):
            child.service.terminate()
        for child in reversed(self.children):
            child.service.reap(timeout)
