"""The README's run command, as a newcomer uses it, in a fresh clone (SPEC R1)."""
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request

import pytest

from portal.devstack import PROJECT_ROOT, free_port, wait_for_http


def nothing_listens(port, timeout=30):
    """True once a connection to ``port`` is refused (polled: a process may take a moment to close it)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
        except ConnectionRefusedError:
            return True
        except OSError:
            pass
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)


def test_the_ports_check_tells_a_listening_port_from_a_free_one():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = server.getsockname()[1]
    try:
        assert not nothing_listens(port, timeout=0.5)
    finally:
        server.close()
    assert nothing_listens(port)


@pytest.mark.slow
def test_make_run_in_a_fresh_clone_serves_the_sign_in_page(tmp_path):
    clone = tmp_path / "calbridge"
    subprocess.run(["git", "clone", "--quiet", PROJECT_ROOT, str(clone)], check=True)
    # What is not committed yet is what the developer is testing: bring it along.
    subprocess.run(["git", "-C", PROJECT_ROOT, "diff", "HEAD", "--binary", "--output", str(tmp_path / "wip.patch")],
                   check=True)
    if (tmp_path / "wip.patch").stat().st_size:
        subprocess.run(["git", "-C", str(clone), "apply", str(tmp_path / "wip.patch")], check=True)
    portal_port, sandbox_port, redis_port = free_port(), free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CALBRIDGE_", "SANDBOX_"))
           and k not in ("DATABASE_URL", "REDIS_URL", "VIRTUAL_ENV")}
    env.update(PORTAL_PORT=str(portal_port), SANDBOX_PORT=str(sandbox_port), REDIS_PORT=str(redis_port),
               MAIL_PORT=str(free_port()),
               PIP_DISABLE_PIP_VERSION_CHECK="1")
    log = open(tmp_path / "make-run.log", "wb")
    proc = subprocess.Popen(["make", "run"], cwd=clone, env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        wait_for_http(f"http://127.0.0.1:{portal_port}/signin", timeout=400, process=proc)
        page = urllib.request.urlopen(f"http://127.0.0.1:{portal_port}/signin").read().decode()
        assert "Sign in" in page and 'for="email">Email' in page
        wait_for_http(f"http://127.0.0.1:{sandbox_port}/_sandbox/health", timeout=30, process=proc)
        banner = (tmp_path / "make-run.log").read_text()
        deadline = time.monotonic() + 20
        while "Portal sign-ins" not in banner and time.monotonic() < deadline:
            time.sleep(0.5)
            banner = (tmp_path / "make-run.log").read_text()
        assert "alice@calbridge.test" in banner and "calbridge-demo" in banner
    except Exception:
        print((tmp_path / "make-run.log").read_text()[-5000:])
        raise
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C sends to the terminal's process group
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                raise AssertionError("make run did not stop on Ctrl-C")
    # Ctrl-C stopped every service: nothing listens on their ports any more (a refused connection; an
    # HTTP error answer would mean a server is still up).
    for port in (portal_port, sandbox_port, redis_port):
        assert nothing_listens(port), f"port {port} still accepts connections after Ctrl-C"
    shutil.rmtree(clone / ".venv", ignore_errors=True)
