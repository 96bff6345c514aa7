"""The portal restarted while deliveries arrive (SPEC E5, C7, W6).

The portal runs under gunicorn as its own process. First a quick restart:
the deliveries Calendly (the sandbox) could not make are made by its
retries. Then a long one: the retries run out, Calendly disables the
webhook subscription and stops sending; the reconciliation imports what was
missed and subscribes again, and webhooks flow as before.
"""
import time

import pytest

from jobs.sync import reconcile_connection
from portal.calendly import subscriptions
from portal.models import CalendlyConnection, Outcome, SyncDecision
from portal.queues import get_redis

from .helpers import Booker, job_arguments, leaks, redis_texts, tally, wait_until

pytestmark = pytest.mark.reliability


def imported(uris):
    return lambda: tally(uris)["lost"] == 0


def subscription_state(sandbox, url):
    states = [s["state"] for s in sandbox.subscriptions() if s["callback_url"] == url and not s["deleted"]]
    return states[-1] if states else None


def test_portal_restarts_lose_nothing_thanks_to_retries_and_reconciliation(
        private_live, sandbox, procs, secrets, debug_logs, reliability_report):
    started = time.monotonic()
    portal, conn = private_live.portal, private_live.connection
    callback = CalendlyConnection.get_by_id(conn.id)
    url = subscriptions.webhook_url(callback)  # the connection's callback, naming its event list
    assert url.startswith(f"{portal.url}/webhooks/calendly/{callback.webhook_token}?")
    booker = Booker(sandbox, private_live.cleaning["uri"])
    booker.book(3)
    wait_until(imported(booker.uris), timeout=20, message="the bookings before the restarts")

    # A quick restart: Calendly's retries deliver what the dead portal refused.
    portal.stop()
    quick = [b["invitee"] for b in booker.book(4)]
    down_at = time.monotonic()
    procs.restart(portal)
    restart_seconds = time.monotonic() - down_at
    wait_until(imported(booker.uris), timeout=20, message="the retried deliveries")
    retried = {a["invitee"] for a in sandbox.deliveries()
               if a["invitee"] in quick and a["attempt"] > 1 and a["status_code"] == 200}
    assert retried == set(quick)
    assert subscription_state(sandbox, url) == "active"

    # A long outage: the retries run out and Calendly disables the subscription.
    portal.stop()
    missed = [b["invitee"] for b in booker.book(4)]
    wait_until(lambda: subscription_state(sandbox, url) == "disabled", timeout=20,
               message="Calendly to give up and disable the subscription")
    missed += [b["invitee"] for b in booker.book(2)]  # not even attempted: the subscription is disabled
    procs.restart(portal)
    missed += [b["invitee"] for b in booker.book(2)]
    assert tally(missed)["appointments"] == 0

    # The periodic reconciliation imports the missed bookings and subscribes again.
    reconcile_connection(conn.id)
    assert tally(missed)["lost"] == 0
    renewed = CalendlyConnection.get_by_id(conn.id)
    assert renewed.webhook_state == "active" and subscription_state(sandbox, url) == "active"
    after = [b["invitee"] for b in booker.book(3)]
    wait_until(imported(after), timeout=20, message="webhooks to flow again after the reconciliation")

    figures = tally(booker.uris)
    assert figures["missing"] == [] and figures["duplicated"] == 0
    reconciled = SyncDecision.select().where(SyncDecision.invitee_uri.in_(booker.uris)
                                             & (SyncDecision.via == "reconcile")
                                             & (SyncDecision.outcome == Outcome.IMPORTED)).count()
    assert reconciled == len(missed)

    secrets.from_connections()
    redis = get_redis()
    places = {**redis_texts(redis), **job_arguments(redis), **procs.logs(), "portal log records": debug_logs.text}
    assert leaks(secrets, places) == []

    reliability_report.record(
        "Portal restarted", sent=len(booker.uris), faults="portal stopped and restarted", faults_injected=2,
        appointments=figures["appointments"], lost=figures["lost"], duplicated=figures["duplicated"],
        seconds=time.monotonic() - started,
        notes=[f"quick restart ({restart_seconds:.1f} s): {len(retried)} bookings delivered by Calendly's retries; "
               f"long outage: subscription disabled, {reconciled} bookings imported by the reconciliation, "
               "webhook subscription re-created"],
    )
