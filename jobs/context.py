"""The app context RQ jobs run in (the worker builds one app per process)."""
import functools

from flask import current_app, has_app_context

from portal.extensions import db

_app = None


def get_app():
    global _app
    if has_app_context():
        return current_app._get_current_object()
    if _app is None:
        from portal import create_app

        _app = create_app()
    return _app


def job(func):
    """Run ``func`` inside the app context with a database connection."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        app = get_app()
        with app.app_context():
            # A job run inline inside another job (RQ_ASYNC off) shares the
            # outer job's connection: only the one who opened it closes it.
            opened = db.connect(reuse_if_open=True)
            try:
                return func(*args, **kwargs)
            finally:
                if opened and not db.is_closed() and not db.in_transaction():
                    db.close()

    return wrapper
