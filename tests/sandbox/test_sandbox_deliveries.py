"""Delivery rules newer than the retry schedule: 410 Gone deletes the subscription at once, and Calendly's
connect/read timeouts make a slow receiver a failed (retried) delivery (Calendly webhook docs, API-FACTS §7)."""
import time
from datetime import timedelta

import pytest
from sandbox_helpers import at

from sandbox import create_app, webhooks
from sandbox.store import utcnow


def subscribe(api, world, url):
    resp = api.post("/webhook_subscriptions", world["solo_token"], {
        "url": url, "events": ["invitee.created"], "organization": world["solo"]["organization"]["uri"],
        "user": world["solo"]["user"]["uri"], "scope": "user"})
    return resp.json["resource"]


def test_receiver_answering_410_deletes_the_subscription_without_retries(sb_app, api, admin, world, receiver,
                                                                        send_due):
    sub = subscribe(api, world, receiver.url)
    receiver.statuses = [410]
    admin.book(world["chat"]["uri"], at(1), email="a@example.com")
    admin.book(world["chat"]["uri"], at(2), email="b@example.com")
    assert send_due() == 2
    # Nothing is left to send, even a day later: no retry of the 410, nothing more to a deleted subscription.
    assert webhooks.send_due(sb_app, now=utcnow() + timedelta(days=1)) == 0
    assert len(receiver.requests) == 1
    [row] = admin.subscriptions()
    assert row["deleted"] is True and row["deleted_at"]
    assert api.get(sub["uri"], world["solo_token"]).status_code == 404
    log = admin.deliveries()
    assert [(d["attempt"], d["status_code"], d["skipped"]) for d in log] == [(1, 410, None), (1, None, "deleted")]


@pytest.mark.sandbox_config(SANDBOX_WEBHOOK_READ_TIMEOUT=0.3)
def test_slow_receiver_times_out_and_the_delivery_is_retried(api, admin, world, receiver, send_due):
    subscribe(api, world, receiver.url)
    receiver.delays = [3]  # the first answer comes long after the read timeout
    admin.book(world["chat"]["uri"], at(1))
    send_due()
    deadline = time.monotonic() + 15
    while not any(d["status_code"] == 200 for d in admin.deliveries()) and time.monotonic() < deadline:
        time.sleep(0.1)
        send_due()
    log = admin.deliveries()
    assert log[0]["attempt"] == 1 and log[0]["status_code"] is None and "Timeout" in log[0]["error"]
    assert log[-1]["attempt"] >= 2 and log[-1]["status_code"] == 200
    [row] = admin.subscriptions()
    assert row["deleted"] is False and row["state"] == "active"


def test_delivery_timeouts_default_to_calendlys_and_come_from_the_environment(tmp_path, monkeypatch):
    app = create_app({"SANDBOX_DATABASE": str(tmp_path / "a.db"), "SANDBOX_WEBHOOK_SENDER": "off"})
    assert (app.config["SANDBOX_WEBHOOK_CONNECT_TIMEOUT"], app.config["SANDBOX_WEBHOOK_READ_TIMEOUT"]) == (10, 15)
    app.extensions["sandbox"].stop()
    monkeypatch.setenv("SANDBOX_WEBHOOK_CONNECT_TIMEOUT", "0.5")
    monkeypatch.setenv("SANDBOX_WEBHOOK_READ_TIMEOUT", "2")
    app = create_app({"SANDBOX_DATABASE": str(tmp_path / "b.db"), "SANDBOX_WEBHOOK_SENDER": "off"})
    assert (app.config["SANDBOX_WEBHOOK_CONNECT_TIMEOUT"], app.config["SANDBOX_WEBHOOK_READ_TIMEOUT"]) == (0.5, 2)
    app.extensions["sandbox"].stop()
