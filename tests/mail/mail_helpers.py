"""Helpers for the email tests: poll the database, read links out of caught messages."""
import re

from portal.models import OutboundEmail
from tests.sync.helpers import wait_for

LINK = re.compile(r'https?://[^\s"<>]+')


def wait_until(predicate, timeout=30.0, message="condition"):
    """``wait_for`` with the longer default that SMTP round trips on a busy machine need."""
    return wait_for(predicate, timeout=timeout, interval=0.1, message=message)


def outbox_states():
    return sorted(e.state for e in OutboundEmail.select())


def links(text, containing=""):
    return [u for u in LINK.findall(text) if containing in u]
