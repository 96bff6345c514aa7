"""What reconciliation remembers of each event it read, so a quiet connection costs a few calls a run (issue 12).

Calendly cannot list "what changed since" (API-FACTS §6), so reconciliation
lists every event of its window each run; reading each event's invitees too
would cost one call per event. Instead, after an event's invitees have all
been applied, its fingerprint (``updated_at``, status, invitee counters) is
remembered in one Redis hash per connection, and the next run reads the
invitees only of events whose fingerprint changed or is unknown.

The memory may only ever cost extra calls, never a booking:
- a lost or unreadable hash (Redis flushed or down) means every event is read;
- the hash carries a context (the connection's selection periods, its first
  Save, the backfill window and the subaccount's E4 setting): any change to
  what ``decide`` would judge empties it;
- a remembered event the portal's database has no decision for (a restored
  database, a purge) is read again;
- an event without ``updated_at`` is never remembered;
- a fingerprint is written only for events whose every invitee was applied,
  and the hash is replaced each run by the events listed in it, so it never
  outgrows the window.
"""
import hashlib
import json
import logging

from flask import current_app
from redis.exceptions import RedisError

from portal.models import CalendarSelection, Subaccount, SyncDecision
from portal.queues import get_redis

log = logging.getLogger(__name__)

CONTEXT_FIELD = "_context"
KEEP_SECONDS = 14 * 86400  # a connection not reconciled for two weeks starts afresh
DB_CHUNK = 500  # event URIs per IN (...) query


def key(connection_id):
    return f"calbridge:reconcile:events:{connection_id}"


def fingerprint(event):
    """A digest of what changes when an event or its invitees change; None when Calendly gave no ``updated_at``."""
    if not event.get("updated_at"):
        return None
    parts = [event.get("updated_at"), event.get("status"), event.get("invitees_counter"), event.get("start_time"),
             event.get("event_type")]
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:32]


def context(connection):
    """A digest of everything besides the event that the import decision depends on."""
    periods = sorted(
        (s.event_type_uri, str(s.selected_from), str(s.selected_until), s.ended_with or "", bool(s.includes_backfill))
        for s in CalendarSelection.select().where(CalendarSelection.connection == connection.id))
    reflect = Subaccount.select(Subaccount.reflect_cancellations).where(
        Subaccount.id == connection.subaccount_id).scalar()
    parts = [periods, str(connection.connected_at), current_app.config.get("BACKFILL_DAYS", 180), bool(reflect)]
    return hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()[:32]


class EventMemory:
    """One reconciliation run's view of the remembered fingerprints of one connection."""

    def __init__(self, connection):
        self.connection = connection
        self.context = context(connection)
        self.known = self._load()
        self.keep = {}  # event URI -> fingerprint, written back at the end of the run

    def _load(self):
        try:
            stored = get_redis().hgetall(key(self.connection.id))
        except RedisError as exc:
            log.warning("connection %s: reconciliation reads every event (Redis unavailable: %s)",
                        self.connection.id, exc)
            return {}
        stored = {k.decode(): v.decode() for k, v in stored.items()}
        if stored.pop(CONTEXT_FIELD, None) != self.context:
            return {}
        return stored

    def to_read(self, events):
        """The events whose invitees must be read: changed, unknown, or unknown to the database."""
        unchanged = {}
        for event in events:
            fp = fingerprint(event)
            if fp is not None and self.known.get(event["uri"]) == fp:
                unchanged[event["uri"]] = fp
        decided = self._decided(list(unchanged))
        self.keep.update({uri: fp for uri, fp in unchanged.items() if uri in decided})
        return [e for e in events if e["uri"] not in self.keep]

    def _decided(self, event_uris):
        """The event URIs the database holds a decision about through this connection."""
        found = set()
        for start in range(0, len(event_uris), DB_CHUNK):
            chunk = event_uris[start:start + DB_CHUNK]
            found.update(row[0] for row in SyncDecision.select(SyncDecision.event_uri).where(
                (SyncDecision.connection == self.connection.id) & SyncDecision.event_uri.in_(chunk)).distinct()
                .tuples())
        return found

    def applied(self, event):
        """Every invitee of ``event`` was applied: remember it."""
        fp = fingerprint(event)
        if fp is not None:
            self.keep[event["uri"]] = fp

    def save(self):
        """Replace the remembered fingerprints by this run's (unchanged ones and those just applied)."""
        name = key(self.connection.id)
        try:
            pipe = get_redis().pipeline(transaction=True)
            pipe.delete(name)
            pipe.hset(name, mapping={CONTEXT_FIELD: self.context, **self.keep})
            pipe.expire(name, KEEP_SECONDS)
            pipe.execute()
        except RedisError as exc:
            log.warning("connection %s: event fingerprints not saved (Redis unavailable: %s)", self.connection.id, exc)
