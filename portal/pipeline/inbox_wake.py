"""Waking the inbox from the web process without a Redis round trip per delivery.

Hand-written (no library coalesces "at least one signal after each event"):
``signal()`` is what the intake calls after storing a delivery. In a served
portal it only sets a flag; one daemon thread per web process then sends
``inbox.wake`` (a ``SET NX``, and a drain job for the first delivery of a
burst), so a burst of requests costs one Redis round trip per wake-up of
the thread, not one per delivery. The thread clears the flag *before* it
sends, so every delivery stored before a ``signal()`` is followed by a
wake sent after it: none is left without a drain. If Redis is down the
thread logs and waits for the next delivery; the rows stay ``received``
and the sweep hands them on. Under test (``TESTING``) or with
``INBOX_WAKE_IN_BACKGROUND`` off, ``signal()`` wakes the inbox in the request.
"""
import logging
import os
import threading
import time

from flask import current_app

from portal.pipeline import inbox

log = logging.getLogger(__name__)

REST_SECONDS = 0.02
_lock = threading.Lock()
_waker = None


class Waker:
    """The web process's wake-up thread (one per process: started after gunicorn's fork)."""

    def __init__(self, app):
        self.app, self.pid = app, os.getpid()
        self.pending = threading.Event()
        self.sent = 0
        self.thread = threading.Thread(target=self._run, name="calbridge-inbox-wake", daemon=True)
        self.thread.start()

    def _run(self):
        while True:
            self.pending.wait()
            self.pending.clear()  # before sending: a delivery stored from now on sets it again
            with self.app.app_context():
                try:
                    inbox.wake()
                    self.sent += 1
                except Exception:  # noqa: BLE001 - the thread must outlive any one failure; the sweep is the backstop
                    log.exception("waking the inbox failed; the sweep hands the deliveries on")
            time.sleep(REST_SECONDS)


def signal():
    """After a delivery is stored: make sure a drain job will see it."""
    if not current_app.config.get("INBOX_WAKE_IN_BACKGROUND", not current_app.testing):
        inbox.wake()
        return
    waker()


def waker():
    """This process's ``Waker`` (started on first use, and again in a forked child)."""
    global _waker
    current = _waker
    if current is None or current.pid != os.getpid():
        with _lock:
            if _waker is None or _waker.pid != os.getpid():
                _waker = Waker(current_app._get_current_object())
            current = _waker
    current.app = current_app._get_current_object()  # the app that stored the delivery (one per process when served)
    current.pending.set()
    return current
