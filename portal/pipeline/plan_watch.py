"""A lapsed Calendly plan is noticed at the next delivery, not only at the next reconciliation (SPEC C5, issue 12).

Calendly says nothing when a trial ends or a subscription lapses; since
3 Nov 2026 it even keeps delivering webhooks on the Free plan (API-FACTS §4).
So before a worker applies deliveries it re-reads the plan of their
connections, at most once per ``CALENDLY_PLAN_CHECK_SECONDS`` each (one
``GET /organizations/{uuid}``; a Redis ``SET NX EX`` per connection says whose
turn it is). A lapsed plan turns the connection **Plan not supported** there
and then, and the deliveries are skipped for it (C5, ``windows.status_gate``);
an upgrade is noticed by the next reconciliation, which imports what was
missed. Any trouble reaching Calendly or Redis only postpones the check:
the delivery is applied as before.
"""
import logging

from flask import current_app
from redis.exceptions import RedisError

from portal.calendly.client import CalendlyClient
from portal.calendly.errors import CalendlyError
from portal.models import CalendlyConnection, Status
from portal.queues import get_redis
from portal.pipeline.reconcile import check_plan

log = logging.getLogger(__name__)


def key(connection_id):
    return f"calbridge:plan-checked:{connection_id}"


def check_due(connection_ids):
    """Re-read the plan of each syncing connection whose last check is older than the interval."""
    interval = int(current_app.config.get("CALENDLY_PLAN_CHECK_SECONDS", 60))
    if interval <= 0:
        return
    connections = CalendlyConnection.select().where(
        CalendlyConnection.id.in_(list(set(connection_ids))) & CalendlyConnection.status.in_(Status.SYNCING)
        & (CalendlyConnection.organization_uri != ""))
    for connection in connections:
        try:
            if not get_redis().set(key(connection.id), 1, nx=True, ex=interval):
                continue
        except RedisError as exc:
            log.warning("plan check of connection %s postponed: Redis unavailable (%s)", connection.id, exc)
            return
        client = CalendlyClient(connection, attempts=1)  # a delivery waits for this: no retries, no waits
        client.max_rate_wait = 0
        try:
            check_plan(connection, client)
        except CalendlyError as exc:
            log.info("plan check of connection %s postponed: %s", connection.id, exc)
        finally:
            client.close()
