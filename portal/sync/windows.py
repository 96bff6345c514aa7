"""Sync windows: whether one booking is imported through one connection (SPEC W1-W5).

Pure functions over the calendar's selection periods (``CalendarSelection``
rows or anything with the same attributes). A booking is judged by its
Calendly creation time, the invitee's ``created_at``.

The periods of a calendar form *lineages*: a period ended with **Delete**
ends its lineage; one ended with **Keep** does not. Only the lineage after
the last Delete counts (W4). Within it, a booking is covered when it was
created during any of its periods, or, when the lineage's first period began
at the first Save (``includes_backfill``), when it was created within
``backfill_days`` before ``connected_at`` or was still upcoming then (W2).
A calendar added later starts a lineage without backfill (W3). A new
connection has its own periods and ``connected_at`` (W5).
"""
from dataclasses import dataclass
from datetime import timedelta

from portal.models import SkipReason, Status

KEEP = "keep"
DELETE = "delete"


@dataclass(frozen=True)
class Decision:
    """``import_`` (``import`` is a keyword), the ``SkipReason`` when not, the rule id, a sentence."""

    import_: bool
    reason: str | None
    rule: str
    detail: str


def _imported(rule, detail):
    return Decision(True, None, rule, f"{rule}: {detail}")


def _skipped(reason, rule, detail):
    return Decision(False, reason, rule, f"{rule}: {detail}")


def _fmt(dt):
    return dt.strftime("%Y-%m-%d %H:%M UTC")


def _covers(period, created):
    return period.selected_from <= created and (period.selected_until is None or created < period.selected_until)


def decide(booking, selections, connected_at, backfill_days):
    """Import or skip ``booking`` given the connection's selection history (W1-W4).

    ``selections`` may hold periods of other calendars; only those of the
    booking's event type are read.
    """
    periods = sorted(
        (s for s in selections if s.event_type_uri == booking.event_type_uri),
        key=lambda s: (s.selected_from, getattr(s, "id", 0) or 0),
    )
    if not periods:
        return _skipped(SkipReason.NOT_SELECTED, "W1", "calendar not selected")
    last_delete = max((i for i, p in enumerate(periods) if p.ended_with == DELETE), default=-1)
    lineage = periods[last_delete + 1:]
    if not lineage:
        return _skipped(SkipReason.NOT_SELECTED, "W1", "calendar not selected (removed with Delete)")

    created = booking.created_at
    for index, period in enumerate(lineage):
        if _covers(period, created):
            since = _fmt(period.selected_from)
            if index > 0:
                return _imported("W4", f"created while the calendar was selected again (from {since})")
            rule = "W2" if period.includes_backfill else "W3"
            return _imported(rule, f"created while the calendar was selected (from {since})")

    first = lineage[0]
    if created < first.selected_from:
        if first.includes_backfill and backfill_days > 0 and connected_at is not None:
            window_start = connected_at - timedelta(days=backfill_days)
            restored = " (coverage restored after Keep)" if len(lineage) > 1 else ""
            if created >= window_start:
                return _imported("W2", f"created within the {backfill_days} days before connecting{restored}")
            if booking.start >= connected_at:
                return _imported("W2", f"upcoming when Calendly was connected{restored}")
            return _skipped(
                SkipReason.OUTSIDE_WINDOW, "W2",
                f"created {_fmt(created)}, before the {backfill_days}-day backfill window "
                f"(from {_fmt(window_start)}) and not upcoming when connected",
            )
        if first.includes_backfill:
            return _skipped(SkipReason.OUTSIDE_WINDOW, "W2", "created before Calendly was connected (no backfill)")
        if last_delete >= 0:
            return _skipped(
                SkipReason.OUTSIDE_WINDOW, "W4",
                f"created before the calendar was selected again on {_fmt(first.selected_from)} "
                "(it had been removed with Delete)",
            )
        return _skipped(
            SkipReason.OUTSIDE_WINDOW, "W3",
            f"created before the calendar was added on {_fmt(first.selected_from)} (no history for added calendars)",
        )
    last = lineage[-1]
    if last.selected_until is not None and created >= last.selected_until:
        return _skipped(SkipReason.NOT_SELECTED, "W1", f"calendar not selected (removed {_fmt(last.selected_until)})")
    return _skipped(SkipReason.OUTSIDE_WINDOW, "W4", "created while calendar deselected")


# Why a connection in each non-syncing status applies nothing.
_GATES = {
    Status.PLAN_NOT_SUPPORTED: (SkipReason.PLAN, "C5", "the Calendly plan does not allow syncing"),
    Status.RECONNECT_NEEDED: (SkipReason.DISCONNECTED, "C6", "the connection needs to be reconnected"),
    Status.DISCONNECTED: (SkipReason.DISCONNECTED, "C7", "the connection was removed"),
    Status.PENDING: (SkipReason.DISCONNECTED, "C1", "the connection's setup is not finished"),
}


def status_gate(status):
    """A skip ``Decision`` when a connection in ``status`` must not sync (C5, C6, S1), else None."""
    if status in Status.SYNCING:
        return None
    reason, rule, detail = _GATES.get(status, (SkipReason.DISCONNECTED, "S1", f"connection status {status}"))
    return _skipped(reason, rule, detail)
