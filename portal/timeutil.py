"""UTC time helpers: the database stores naive UTC datetimes throughout."""
from datetime import datetime, timezone


def utcnow():
    """Now, as a naive UTC datetime (what every DateTimeField holds)."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


def parse_iso(value):
    """Parse Calendly's ISO-8601 timestamp (``...Z``) into naive UTC."""
    if value is None:
        return None
    if isinstance(value, datetime):
        dt = value
    else:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if dt.tzinfo is not None:
        dt = dt.astimezone(timezone.utc).replace(tzinfo=None)
    return dt


def to_iso(dt):
    """Format a naive UTC datetime the way Calendly does: microseconds and ``Z``."""
    if dt is None:
        return None
    if dt.tzinfo is not None:
        dt = dt.astimezone(timezone.utc).replace(tzinfo=None)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
