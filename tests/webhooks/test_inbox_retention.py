"""Inbox retention (issue 12): finished deliveries go after ``INBOX_RETENTION_DAYS``, in batches; pending ones stay."""
import logging
from datetime import timedelta

import pytest

from jobs.sync import prune_inbox
from portal.models import DeliveryState, Subaccount, SyncDecision, WebhookDelivery
from portal.timeutil import utcnow
from sync.helpers import make_connection

OLD, RECENT = timedelta(days=31), timedelta(days=29)


@pytest.fixture
def conn(app_ctx, people):
    return make_connection(people.user("ada@acme.test"), Subaccount.get(name="Acme Dental"), signing_key="k")


def delivery(conn, state, age):
    return WebhookDelivery.create(connection=conn.id, state=state, received_at=utcnow() - age, body="{}")


def deletes(caplog):
    return [r for r in caplog.records if r.name == "peewee" and str(r.msg).lstrip("('").startswith("DELETE")]


@pytest.mark.portal_config(INBOX_PRUNE_BATCH=2)
def test_retention_prunes_finished_deliveries_older_than_30_days_in_batches_and_keeps_pending_ones(conn, caplog):
    pruned = [delivery(conn, state, OLD) for state in (DeliveryState.APPLIED, DeliveryState.APPLIED,
                                                       DeliveryState.REJECTED, DeliveryState.DUPLICATE,
                                                       DeliveryState.SKIPPED)]
    kept = [delivery(conn, state, OLD) for state in (DeliveryState.RECEIVED, DeliveryState.QUEUED,
                                                     DeliveryState.FAILED)]
    kept += [delivery(conn, state, RECENT) for state in (DeliveryState.APPLIED, DeliveryState.REJECTED)]
    decision = SyncDecision.create(connection=conn.id, delivery=pruned[0].id, outcome="imported", rule="W1")

    caplog.set_level(logging.DEBUG, logger="peewee")
    assert prune_inbox() == 5
    assert len(deletes(caplog)) == 3  # 2 + 2 + 1: one short transaction per batch
    assert sorted(d.id for d in WebhookDelivery.select()) == sorted(d.id for d in kept)
    assert SyncDecision.get_by_id(decision.id).delivery_id is None  # the trace stays, without its delivery
    assert prune_inbox() == 0


@pytest.mark.portal_config(INBOX_RETENTION_DAYS=3)
def test_retention_days_come_from_the_configuration(conn):
    old = delivery(conn, DeliveryState.APPLIED, timedelta(days=4))
    young = delivery(conn, DeliveryState.APPLIED, timedelta(days=2))
    assert prune_inbox() == 1
    assert [d.id for d in WebhookDelivery.select()] == [young.id] and old.id != young.id
