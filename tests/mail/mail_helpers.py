"""Helpers for the email tests: poll the outbox table, read links out of caught messages."""
import re
import time

from portal.extensions import db
from portal.models import OutboundEmail

LINK = re.compile(r'https?://[^\s"<>]+')


def wait_until(predicate, timeout=30.0, message="condition"):
    """Poll ``predicate`` (each time on a fresh database connection) until it is truthy."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        with db.connection_context():
            last = predicate()
        if last:
            return last
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {message} (last: {last!r})")


def outbox_states():
    return sorted(e.state for e in OutboundEmail.select())


def links(text, containing=""):
    return [u for u in LINK.findall(text) if containing in u]
