"""Every connection's sync health, for the console list and the health JSON (SPEC S1, S2).

The figures of one page of connections come from a handful of GROUP BY
queries over that page's ids, never one query per connection, so the list
stays fast with many connections and 100k+ decisions. Token and key columns
are never selected.
"""
from dataclasses import dataclass, field
from datetime import timedelta

from peewee import Case, fn

from portal.models import (
    CalendarSelection,
    CalendlyConnection,
    DeliveryState,
    Outcome,
    Status,
    Subaccount,
    SyncDecision,
    User,
    WebhookDelivery,
)
from portal.support import terms
from portal.support.redaction import redact
from portal.timeutil import parse_iso, to_iso, utcnow

PER_PAGE = 50

# The columns the console may read: no access/refresh token, no signing key,
# no webhook token (it is the secret part of the callback URL).
PUBLIC_COLUMNS = (
    CalendlyConnection.id,
    CalendlyConnection.subaccount,
    CalendlyConnection.user,
    CalendlyConnection.calendly_user_uri,
    CalendlyConnection.calendly_email,
    CalendlyConnection.calendly_name,
    CalendlyConnection.plan,
    CalendlyConnection.stage,
    CalendlyConnection.status,
    CalendlyConnection.last_error,
    CalendlyConnection.failure_count,
    CalendlyConnection.backfill_total,
    CalendlyConnection.backfill_done,
    CalendlyConnection.webhook_subscription_uri,
    CalendlyConnection.webhook_state,
    CalendlyConnection.created_at,
    CalendlyConnection.connected_at,
    CalendlyConnection.disconnected_at,
    CalendlyConnection.last_webhook_at,
    CalendlyConnection.last_reconciled_at,
)


@dataclass
class Counts:
    """Decisions over one period: imported, updated and skipped by reason."""

    imported: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: dict = field(default_factory=lambda: {r: 0 for r in terms.SKIP_REASONS})

    @property
    def skipped_total(self):
        return sum(self.skipped.values())

    def add(self, outcome, reason, n):
        if outcome == Outcome.IMPORTED:
            self.imported += n
        elif outcome == Outcome.UPDATED:
            self.updated += n
        elif outcome == Outcome.UNCHANGED:
            self.unchanged += n
        else:
            key = reason or "other"
            self.skipped[key] = self.skipped.get(key, 0) + n

    def as_dict(self):
        return {"imported": self.imported, "updated": self.updated, "unchanged": self.unchanged,
                "skipped": dict(self.skipped), "skipped_total": self.skipped_total}


@dataclass
class Health:
    """One connection as the console shows it."""

    connection: CalendlyConnection
    subaccount_name: str
    owner_email: str
    owner_name: str
    calendars: list = field(default_factory=list)  # CalendarSelection rows, open periods
    last_webhook_at: object = None
    pending: int = 0  # inbox rows received or queued, not yet applied
    oldest_pending_at: object = None
    failed: int = 0
    day: Counts = field(default_factory=Counts)
    week: Counts = field(default_factory=Counts)

    @property
    def webhook_state_label(self):
        c = self.connection
        return terms.webhook_state_label(c.webhook_state, c.webhook_subscription_uri)

    @property
    def needs_attention(self):
        """A status, webhook or inbox problem support staff should look at first."""
        c = self.connection
        return bool(
            c.status in ("error", "reconnect_needed", "plan_not_supported")
            or c.webhook_state == "disabled"
            or self.failed
        )

    @property
    def importing_percent(self):
        c = self.connection
        if not c.backfill_total:
            return 0
        return min(100, int(c.backfill_done * 100 / c.backfill_total))

    @property
    def last_error(self):
        return redact(self.connection.last_error)

    def as_dict(self, now):
        """The health JSON entry: figures only, never a secret."""
        c = self.connection
        return {
            "id": c.id,
            "subaccount": {"id": c.subaccount_id, "name": self.subaccount_name},
            "owner": {"id": c.user_id, "email": self.owner_email, "name": self.owner_name},
            "calendly": {"user_uri": c.calendly_user_uri, "email": c.calendly_email,
                         "name": c.calendly_name, "plan": c.plan, "stage": c.stage},
            "status": c.status,
            "status_label": c.status_label,
            "last_error": self.last_error,
            "importing": {"done": c.backfill_done, "total": c.backfill_total}
            if c.status == Status.IMPORTING else None,
            "selected_calendars": [
                {"name": s.name, "event_type_uri": s.event_type_uri, "shared": s.shared} for s in self.calendars
            ],
            "webhook": {
                "state": c.webhook_state,
                "state_label": self.webhook_state_label,
                "subscription_uri": c.webhook_subscription_uri,
                "last_received_at": to_iso(self.last_webhook_at),
                "last_received_age_seconds": _age(self.last_webhook_at, now),
            },
            "last_reconciled_at": to_iso(c.last_reconciled_at),
            "last_reconciled_age_seconds": _age(c.last_reconciled_at, now),
            "backlog": {"inbox_pending": self.pending, "oldest_pending_at": to_iso(self.oldest_pending_at),
                        "inbox_failed": self.failed},
            "bookings": {"24h": self.day.as_dict(), "7d": self.week.as_dict()},
        }


def _age(moment, now):
    return None if moment is None else max(0, int((now - moment).total_seconds()))


@dataclass
class Filter:
    """The list's filter: one status (or all) and a free-text search."""

    status: str = ""
    q: str = ""

    def apply(self, query):
        if self.status:
            query = query.where(CalendlyConnection.status == self.status)
        q = self.q.strip()
        if q:
            query = query.where(
                Subaccount.name.contains(q)
                | User.email.contains(q)
                | User.name.contains(q)
                | CalendlyConnection.calendly_email.contains(q)
                | CalendlyConnection.calendly_name.contains(q)
                | (CalendlyConnection.calendly_user_uri == q)
            )
        return query


def _base_query():
    last_delivery = (
        WebhookDelivery.select(WebhookDelivery.received_at)
        .where(WebhookDelivery.connection == CalendlyConnection.id)
        .order_by(WebhookDelivery.received_at.desc())
        .limit(1)
    )
    return (
        CalendlyConnection.select(
            *PUBLIC_COLUMNS,
            Subaccount.name.alias("subaccount_name"),
            User.email.alias("owner_email"),
            User.name.alias("owner_name"),
            last_delivery.alias("last_delivery_at"),
        )
        .join(Subaccount, on=(CalendlyConnection.subaccount == Subaccount.id))
        .switch(CalendlyConnection)
        .join(User, on=(CalendlyConnection.user == User.id))
    )


def status_counts():
    """How many connections are in each status, for the filter chips."""
    rows = CalendlyConnection.select(CalendlyConnection.status, fn.COUNT(CalendlyConnection.id)).group_by(
        CalendlyConnection.status
    ).tuples()
    return dict(rows)


def count(flt):
    return flt.apply(_base_query()).count()


def list_health(flt, page=1, per_page=PER_PAGE, now=None):
    """One page of connections with their figures, ordered by subaccount and owner."""
    query = flt.apply(_base_query()).order_by(Subaccount.name, User.email, CalendlyConnection.id)
    if per_page:
        query = query.paginate(page, per_page)
    return _with_figures(list(query.objects()), now or utcnow())


def get_health(connection_id, now=None):
    """One connection with its figures, or None."""
    rows = list(_base_query().where(CalendlyConnection.id == connection_id).objects())
    return _with_figures(rows, now or utcnow())[0] if rows else None


def _with_figures(connections, now):
    by_id = {}
    for c in connections:
        by_id[c.id] = Health(
            connection=c,
            subaccount_name=c.subaccount_name,
            owner_email=c.owner_email,
            owner_name=c.owner_name,
            last_webhook_at=_latest(c.last_webhook_at, c.last_delivery_at),
        )
    if not by_id:
        return []
    ids = list(by_id)

    for sel in (
        CalendarSelection.select()
        .where(CalendarSelection.connection.in_(ids) & CalendarSelection.selected_until.is_null())
        .order_by(CalendarSelection.name)
    ):
        by_id[sel.connection_id].calendars.append(sel)

    inbox = (
        WebhookDelivery.select(
            WebhookDelivery.connection, WebhookDelivery.state,
            fn.COUNT(WebhookDelivery.id), fn.MIN(WebhookDelivery.received_at),
        )
        .where(WebhookDelivery.connection.in_(ids)
               & WebhookDelivery.state.in_(DeliveryState.PENDING + (DeliveryState.FAILED,)))
        .group_by(WebhookDelivery.connection, WebhookDelivery.state)
        .tuples()
    )
    for cid, state, n, oldest in inbox:
        h = by_id[cid]
        if state == DeliveryState.FAILED:
            h.failed += n
        else:
            h.pending += n
            oldest = _as_datetime(oldest)
            h.oldest_pending_at = oldest if h.oldest_pending_at is None else min(h.oldest_pending_at, oldest)

    day_start, week_start = now - timedelta(hours=24), now - timedelta(days=7)
    in_last_day = fn.SUM(Case(None, [(SyncDecision.at >= day_start, 1)], 0))
    decisions = (
        SyncDecision.select(
            SyncDecision.connection, SyncDecision.outcome, SyncDecision.reason,
            fn.COUNT(SyncDecision.id), in_last_day,
        )
        .where(SyncDecision.connection.in_(ids) & (SyncDecision.at >= week_start) & (SyncDecision.at <= now))
        .group_by(SyncDecision.connection, SyncDecision.outcome, SyncDecision.reason)
        .tuples()
    )
    for cid, outcome, reason, week, day in decisions:
        by_id[cid].week.add(outcome, reason, int(week))
        by_id[cid].day.add(outcome, reason, int(day or 0))
    return [by_id[c.id] for c in connections]


def inbox_totals():
    """Inbox rows per state that need attention, across every connection."""
    states = DeliveryState.PENDING + (DeliveryState.FAILED,)
    rows = (
        WebhookDelivery.select(WebhookDelivery.state, fn.COUNT(WebhookDelivery.id))
        .where(WebhookDelivery.state.in_(states))
        .group_by(WebhookDelivery.state)
        .tuples()
    )
    totals = {s: 0 for s in states}
    totals.update(dict(rows))
    return totals


def _latest(*moments):
    moments = [_as_datetime(m) for m in moments if m is not None]
    return max(moments) if moments else None


def _as_datetime(value):
    """Aggregates and subqueries come back from SQLite as text."""
    if isinstance(value, str):
        return parse_iso(value)
    return value
