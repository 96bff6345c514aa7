"""Supervision (issue 12): a killed worker or scheduler comes back on its own; stopping the stack stops it all.

- ``make run``'s workers and scheduler (the rows of its process table)
  under its supervisor, each SIGKILLed in turn while the sandbox keeps
  booking: each one is back within 10 s, the rest of the stack is never
  touched, every booking becomes exactly one appointment, and the support
  console counts the restarts;
- ``python -m portal.devstack`` itself: a SIGKILLed worker is restarted,
  and SIGTERM or SIGINT stops every process it started, leaving nothing
  behind.
"""
import os
import signal
import socket
import subprocess
import time

import pytest

from portal.devstack import PROJECT_ROOT, free_port, wait_for_http

from .conftest import JOB_ROWS
from .helpers import Booker, delivery_states, python, tally, wait_until

pytestmark = pytest.mark.reliability

BACK_WITHIN_SECONDS = 10


def test_killed_workers_and_scheduler_are_restarted_alone_and_every_booking_is_applied_once(
        private_live, supervised_jobs, sandbox, people, client, auth, reliability_report):
    started = time.monotonic()
    booker = Booker(sandbox, private_live.cleaning["uri"], prefix="kept")
    portal_pid = private_live.portal.process.pid
    for name in JOB_ROWS:
        booker.book(3)
        before = supervised_jobs.pids()
        os.kill(before[name], signal.SIGKILL)
        booker.book(3)  # the bookings keep coming while it is down
        wait_until(lambda: supervised_jobs.pids().get(name) not in (None, before[name]),
                   timeout=BACK_WITHIN_SECONDS, interval=0.2, message=f"{name} to be running again")
        others = {k: v for k, v in supervised_jobs.pids().items() if k != name}
        assert others == {k: v for k, v in before.items() if k != name}, "another process was restarted too"
        assert private_live.portal.process.poll() is None and private_live.portal.process.pid == portal_pid

    booker.book(3)
    wait_until(lambda: tally(booker.uris)["lost"] == 0, timeout=90, interval=0.5, describe=delivery_states,
               message="every booking imported")
    figures = tally(booker.uris)
    assert figures["missing"] == [] and figures["duplicated"] == 0
    assert figures["appointments"] == len(booker.uris)
    attempts = [a for a in sandbox.deliveries() if a["invitee"] in set(booker.uris)]
    assert all(a["status_code"] and 200 <= a["status_code"] < 300 for a in attempts)

    # Support staff see the restarts in the console and in its health JSON.
    people.user("sam@calbridge.test", subaccount=None, support=True)
    auth.login("sam@calbridge.test")
    health = client.get("/support/api/connections").get_json()
    counted = {p["name"]: p["restarts"] for p in health["processes"]["processes"]}
    assert counted == {name: 1 for name in JOB_ROWS}
    assert all(p["last_exit"] == "SIGKILL" for p in health["processes"]["processes"])
    page = client.get("/support/").get_data(as_text=True)
    assert "Process restarts" in page and "worker-1 ×1" in page and "scheduler ×1" in page

    reliability_report.record(
        "Workers and scheduler SIGKILLed", sent=len(booker.uris), faults="SIGKILL of each worker and the scheduler",
        faults_injected=len(JOB_ROWS), appointments=figures["appointments"], lost=figures["lost"],
        duplicated=figures["duplicated"], seconds=time.monotonic() - started,
        notes=["each one restarted alone by make run's supervisor; the portal and the other processes untouched"],
    )


# ---------------------------------------------------------------- the whole of make run
def _process_identity(pid):
    """(pid, start time) of a live process, None if it is gone: a pid reused later is not the same process."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    if fields[0] == "Z":
        return None
    return pid, fields[19]


def _descendants(root):
    """Identities of every live process below ``root`` (ppid chains read from /proc)."""
    children = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
            children.setdefault(ppid, []).append(int(entry))
    found, todo = set(), [root]
    while todo:
        for child in children.get(todo.pop(), []):
            identity = _process_identity(child)
            if identity:
                found.add(identity)
                todo.append(child)
    return found


def _cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _poll(predicate, timeout, message):
    """``wait_until`` without the database (this test has none of its own)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message}")
        time.sleep(0.2)


def _listening(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            return True
    except OSError:
        return False


def _worker_pids(root):
    return {pid for pid, _ in _descendants(root) if "-m jobs.worker" in _cmdline(pid)}


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_the_stack_restarts_a_killed_worker_and_stopping_it_leaves_no_process_behind(tmp_path, stop_signal):
    instance = tmp_path / "instance"
    portal_port, sandbox_port, redis_port = free_port(), free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CALBRIDGE_", "SANDBOX_"))
           and k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(PORTAL_PORT=str(portal_port), SANDBOX_PORT=str(sandbox_port), REDIS_PORT=str(redis_port),
               MAIL_PORT=str(free_port()),
               CALBRIDGE_INSTANCE_PATH=str(instance))
    log_path = tmp_path / "devstack.log"
    running = set()
    with open(log_path, "wb") as log:
        stack = subprocess.Popen([python(), "-m", "portal.devstack"], cwd=PROJECT_ROOT, env=env, stdout=log,
                                 stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_for_http(f"http://127.0.0.1:{portal_port}/signin", timeout=120, process=stack)
        _poll(lambda: "Calbridge is running" in log_path.read_text(), timeout=60, message="the banner")
        _poll(lambda: len(_worker_pids(stack.pid)) == 2, timeout=30, message="two workers")

        doomed = min(_worker_pids(stack.pid))
        os.kill(doomed, signal.SIGKILL)
        # The whole `make run` stack on a loaded 2-core machine: a generous deadline, not a speed figure.
        _poll(lambda: len(_worker_pids(stack.pid) - {doomed}) == 2, timeout=3 * BACK_WITHIN_SECONDS,
              message="the killed worker to be replaced")
        assert stack.poll() is None, "the stack stopped because one worker died"
        wait_for_http(f"http://127.0.0.1:{portal_port}/signin", timeout=10)
        assert "restarted" in log_path.read_text()

        running = _descendants(stack.pid)
        names = " ".join(_cmdline(pid) for pid, _ in running)
        for part in ("redis-server", "gunicorn", "-m sandbox", "-m jobs.worker", "-m jobs.scheduler"):
            assert part in names, f"{part} is not running under the stack"

        os.kill(stack.pid, stop_signal)
        stack.wait(60)
        assert stack.returncode == 0
        left = [(pid, _cmdline(pid)) for pid, started in running if _process_identity(pid) == (pid, started)]
        assert left == [], f"still running after the stack stopped: {left}"
        assert [p for p in (portal_port, sandbox_port, redis_port) if _listening(p)] == []
    except BaseException:
        print(log_path.read_text()[-4000:])
        raise
    finally:
        if stack.poll() is None:
            os.killpg(stack.pid, signal.SIGKILL)
            stack.wait()
        for pid, started in running:  # a failed stop must not leave its orphans to the next test
            if _process_identity(pid) == (pid, started):
                os.kill(pid, signal.SIGKILL)
