"""The WSGI entry point gunicorn loads (``wsgi.py``)."""
import subprocess
import sys

from portal.devstack import PROJECT_ROOT


def test_the_loaded_app_is_kept_out_of_the_collectors_full_passes(stack):
    """After ``import wsgi`` the modules, templates and app are frozen (``gc.freeze``): a full collection
    in the middle of a request would walk them all (tens of ms on the week view's p95)."""
    out = subprocess.run([sys.executable, "-c", "import gc, wsgi; print(gc.get_freeze_count())"],
                         cwd=PROJECT_ROOT, env=stack["env"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr[-2000:]
    assert int(out.stdout) > 10_000, out.stdout
