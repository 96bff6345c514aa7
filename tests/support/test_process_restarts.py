"""The console's "Process restarts": what systemd's ExecStopPost hook records (deploy/systemd)."""
import os
import subprocess
import sys

from portal import restarts
from portal.devstack import PROJECT_ROOT


def _exec_stop_post(stack, name, **systemd_env):
    """``python -m portal.restarts record NAME`` as a unit's ExecStopPost runs it."""
    env = dict(stack["env"], **systemd_env)
    return subprocess.run([sys.executable, "-m", "portal.restarts", "record", name], env=env, cwd=PROJECT_ROOT,
                          capture_output=True, text=True, timeout=60)


def test_a_crash_under_systemd_is_counted_in_the_console_and_a_clean_stop_is_not(stack, support_client):
    os.makedirs(stack["instance"], exist_ok=True)
    restarts.reset(stack["instance"])

    assert _exec_stop_post(stack, "worker-2", SERVICE_RESULT="success", EXIT_CODE="exited",
                           EXIT_STATUS="0").returncode == 0
    assert support_client.get("/support/api/connections").get_json()["processes"]["processes"] == []
    page = support_client.get("/support/").get_data(as_text=True)
    assert "every process up since start" in page

    for _ in range(2):
        assert _exec_stop_post(stack, "worker-2", SERVICE_RESULT="signal", EXIT_CODE="killed",
                               EXIT_STATUS="KILL").returncode == 0
    health = support_client.get("/support/api/connections").get_json()["processes"]["processes"]
    assert [(p["name"], p["restarts"], p["last_exit"]) for p in health] == [("worker-2", 2, "KILL")]
    page = support_client.get("/support/").get_data(as_text=True)
    assert "worker-2 ×2" in page


def test_the_hook_without_a_name_says_how_to_call_it(stack):
    result = subprocess.run([sys.executable, "-m", "portal.restarts"], env=stack["env"], cwd=PROJECT_ROOT,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "usage: python -m portal.restarts record NAME" in result.stderr
