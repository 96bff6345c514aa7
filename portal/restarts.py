"""The restart record: which stack process died and was started again, for the support console.

The supervisor of ``make run`` writes it; under systemd each unit's
``ExecStopPost`` does (``python -m portal.restarts record NAME``, which reads
systemd's ``$SERVICE_RESULT`` and ``$EXIT_STATUS``). One JSON file in the
instance folder, so a restart is recorded even while Redis is down.
"""
import fcntl
import json
import os
import sys
import tempfile
from contextlib import contextmanager

from portal.timeutil import to_iso, utcnow

FILENAME = "process-restarts.json"


def path(instance_dir):
    return os.path.join(instance_dir, FILENAME)


@contextmanager
def _locked(instance_dir):
    os.makedirs(instance_dir, exist_ok=True)
    fd = os.open(path(instance_dir) + ".lock", os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _load(instance_dir):
    try:
        with open(path(instance_dir)) as f:
            data = json.load(f)
    except (OSError, ValueError):
        return {"since": None, "processes": {}}
    if not isinstance(data, dict) or not isinstance(data.get("processes"), dict):
        return {"since": None, "processes": {}}
    return data


def _save(instance_dir, data):
    fd, tmp = tempfile.mkstemp(dir=instance_dir, prefix=".restarts-")
    with os.fdopen(fd, "w") as f:
        json.dump(data, f, indent=1, sort_keys=True)
    os.replace(tmp, path(instance_dir))


def reset(instance_dir):
    """A new run of the stack: no restarts yet."""
    with _locked(instance_dir):
        _save(instance_dir, {"since": to_iso(utcnow()), "processes": {}})


def record(instance_dir, name, exit_status):
    """``name`` exited with ``exit_status`` (a code, or a signal name) and is being started again."""
    with _locked(instance_dir):
        data = _load(instance_dir)
        entry = data["processes"].setdefault(name, {"restarts": 0})
        entry.update(restarts=int(entry.get("restarts", 0)) + 1, last_restart_at=to_iso(utcnow()),
                     last_exit=str(exit_status))
        _save(instance_dir, data)


def read(instance_dir):
    """``{"since", "processes": [{"name", "restarts", "last_restart_at", "last_exit"}]}``, by name."""
    data = _load(instance_dir)
    processes = [dict(entry, name=name) for name, entry in sorted(data["processes"].items())]
    return {"since": data.get("since"), "processes": processes}


def main(argv=None):
    """``python -m portal.restarts record NAME``: systemd's ExecStopPost after a failed run."""
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2 or argv[0] != "record":
        print("usage: python -m portal.restarts record NAME", file=sys.stderr)
        return 2
    if os.environ.get("SERVICE_RESULT", "success") == "success":
        return 0  # a clean stop, not a crash
    from portal import PROJECT_ROOT

    instance = os.environ.get("CALBRIDGE_INSTANCE_PATH") or os.path.join(PROJECT_ROOT, "instance")
    record(instance, argv[1], os.environ.get("EXIT_STATUS") or os.environ["SERVICE_RESULT"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
