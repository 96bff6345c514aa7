"""Keyset ("seek") pagination over a (sort key, id) pair.

A page is found by where the previous one ended, never by OFFSET, and
nothing is counted, so page 1,000 costs what page 1 costs when an index
covers (scope, key, id): the appointments list at 100,000 rows and the
contacts list at 50,000 stay fast.

Cursors are opaque, URL-safe strings; a damaged cursor is ignored and the
first page is shown instead (nothing a user can type breaks the list).
"""
import base64
import json
from dataclasses import dataclass, field
from datetime import datetime

from portal.params import is_db_id


@dataclass
class Page:
    rows: list
    next_cursor: str | None = None  # rows after the last one shown
    prev_cursor: str | None = None  # rows before the first one shown
    extra: dict = field(default_factory=dict)

    @property
    def is_first(self):
        return self.prev_cursor is None


def encode_cursor(value, row_id):
    if isinstance(value, datetime):
        value = {"dt": value.isoformat()}
    raw = json.dumps([value, row_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor):
    """``(value, id)`` or ``None`` when the cursor is missing or damaged."""
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        value, row_id = json.loads(raw)
        if isinstance(value, dict):
            value = datetime.fromisoformat(value["dt"])
        if not is_db_id(row_id) or not isinstance(value, (str, datetime)):  # ids past 2^63 break the driver
            return None
        return value, row_id
    except (ValueError, TypeError, KeyError):
        return None


def _beyond(key, id_field, value, row_id, descending):
    """Rows strictly after (value, row_id) in the given order.

    Written as ``key >= v AND (key > v OR id > i)`` rather than a row-value
    comparison: the first term gives every database an index range to seek.
    """
    if descending:
        return (key <= value) & ((key < value) | (id_field < row_id))
    return (key >= value) & ((key > value) | (id_field > row_id))


def paginate(query, key, id_field, *, per_page, descending=False, after=None, before=None, key_of=None):
    """One page of ``query`` ordered by (key, id).

    ``after`` / ``before`` are cursors from a previous page; ``key_of(row)``
    reads the sort key back from a row (defaults to the attribute ``key.name``).
    """
    key_of = key_of or (lambda row: getattr(row, key.name))
    after_pos, before_pos = decode_cursor(after), decode_cursor(before)
    backwards = before_pos is not None and after_pos is None
    order_desc = descending != backwards
    if after_pos is not None:
        query = query.where(_beyond(key, id_field, *after_pos, descending))
    elif backwards:
        query = query.where(_beyond(key, id_field, *before_pos, not descending))
    ordering = (key.desc(), id_field.desc()) if order_desc else (key.asc(), id_field.asc())
    rows = list(query.order_by(*ordering).limit(per_page + 1))
    more = len(rows) > per_page
    rows = rows[:per_page]
    if backwards:
        rows.reverse()
    page = Page(rows)
    if rows:
        first, last = rows[0], rows[-1]
        has_next = more if not backwards else True
        has_prev = more if backwards else after_pos is not None
        if has_next:
            page.next_cursor = encode_cursor(key_of(last), last.id)
        if has_prev:
            page.prev_cursor = encode_cursor(key_of(first), first.id)
    return page
