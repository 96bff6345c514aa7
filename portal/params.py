"""Bounds for what a URL or a form may say: database ids, page numbers, cursors and dates.

A database id is a positive 64-bit signed integer (SQLite's INTEGER and
PostgreSQL's BIGINT); anything larger would make the database driver raise
instead of finding nothing, so it is refused before a query is built. Every
``<int:…>`` in the portal's URLs names a database row, so ``create_app``
installs ``DatabaseIdConverter`` as the ``int`` converter: an id out of range
is a plain 404.
"""
from datetime import date
from urllib.parse import urlsplit

from flask import request
from werkzeug.routing import IntegerConverter

MAX_DB_ID = 2**63 - 1
MAX_PAGE = 100_000  # deeper than any list's last page; OFFSET stays small enough for every database
# The dates a person can mean; the week view adds and subtracts days, so neither end of date's range.
FIRST_DAY = date(1900, 1, 1)
LAST_DAY = date(2999, 12, 31)


class DatabaseIdConverter(IntegerConverter):
    """``<int:…>`` in a URL: 1 … 2^63-1, at most 19 digits (a longer value is a 404)."""

    regex = r"\d{1,19}"

    def __init__(self, map, *args, **kwargs):
        kwargs.setdefault("min", 1)
        kwargs.setdefault("max", MAX_DB_ID)
        super().__init__(map, *args, **kwargs)


def is_db_id(value):
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_DB_ID


def db_id(value):
    """A database id from text, for ``request.args.get(name, type=db_id)``: ``ValueError`` when out of range."""
    text = str(value).strip()
    if not (text.isascii() and text.isdigit()) or len(text) > 19:
        raise ValueError(f"not a database id: {value!r}")
    number = int(text)
    if not is_db_id(number):
        raise ValueError(f"not a database id: {value!r}")
    return number


def page_number(name="page"):
    """The ``page`` query argument, 1 … MAX_PAGE; anything else is page 1 (or the last allowed)."""
    text = (request.args.get(name) or "").strip()
    if not (text.isascii() and text.isdigit()):
        return 1
    if len(text) > len(str(MAX_PAGE)):
        return MAX_PAGE
    return min(max(int(text), 1), MAX_PAGE)


def day(value):
    """A ``YYYY-MM-DD`` date between FIRST_DAY and LAST_DAY, or ``None`` when missing, malformed or out of range."""
    if not value or len(value) > 32:
        return None
    try:
        parsed = date.fromisoformat(value)
    except ValueError:
        return None
    return parsed if FIRST_DAY <= parsed <= LAST_DAY else None


def local_path(target):
    """``target`` when it is a path of this site (``/…``), else None: nothing off-site, no header splitting."""
    if not target or len(target) > 2000 or "\\" in target or any(ord(ch) < 32 or ord(ch) == 127 for ch in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target
