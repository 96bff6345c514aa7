"""The Calendly client against the real sandbox: tokens (C6), rate limits, retries, webhooks (C7)."""
import threading
from datetime import timedelta

import pytest
import requests

from portal.calendly import (
    CalendlyClient,
    NotFound,
    PlanNotSupported,
    RateLimited,
    ReconnectNeeded,
    TransientError,
)
from portal.calendly.tokens import lock_key
from portal.extensions import db
from portal.models import CalendlyConnection, Status
from portal.queues import get_redis
from portal.timeutil import utcnow

from calendly_oauth_flow import expire, token_request


def _issued(sandbox):
    return len({t["token_id"] for t in sandbox.tokens()})


def test_reads_the_account_and_its_plan(connection):
    client = CalendlyClient(connection)
    me = client.me()
    assert me["uri"] == connection.calendly_user_uri and me["email"] == "host@calendly.test"
    org = client.get_organization(me["current_organization"])
    assert (org["plan"], org["stage"]) == ("professional", "paid")


def test_token_is_renewed_before_expiry_and_rotates(connection, stack, reload):
    first_refresh = connection.refresh_token
    client = CalendlyClient(expire(connection))
    client.me()
    after_one = reload(connection)
    assert after_one.refresh_token != first_refresh
    assert after_one.access_token != connection.access_token
    # The renewed token is good for Calendly's two hours again (expire() had put it in the past).
    assert after_one.token_expires_at > utcnow() + timedelta(hours=1)

    # A second renewal in a row works with the token the first one stored...
    CalendlyClient(expire(after_one)).me()
    after_two = reload(connection)
    assert after_two.refresh_token not in (first_refresh, after_one.refresh_token)
    assert after_two.status == Status.CONNECTED
    # ...and the spent refresh token is refused by Calendly (single use).
    spent = token_request(stack, grant_type="refresh_token", refresh_token=first_refresh)
    assert spent.status_code in (400, 401) and spent.json()["error"] == "invalid_grant"


def test_two_workers_renewing_at_once_never_lose_the_connection(connection, app, sandbox, reload):
    expire(connection)
    issued_before = _issued(sandbox)
    results, errors = [], []
    barrier = threading.Barrier(2)

    def worker():
        with app.app_context():
            with db.connection_context():
                conn = CalendlyConnection.get_by_id(connection.id)  # each worker loads its own copy
                barrier.wait()
                try:
                    results.append(CalendlyClient(conn).me()["uri"])
                except Exception as exc:  # noqa: BLE001 - reported below
                    errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == [] and results == [connection.calendly_user_uri] * 2
    stored = reload(connection)
    assert stored.status == Status.CONNECTED
    assert _issued(sandbox) == issued_before + 1  # one renewal, not two
    # The stored refresh token is the live one: the next renewal still works.
    CalendlyClient(expire(stored)).me()
    assert reload(connection).status == Status.CONNECTED


def test_a_worker_waiting_for_the_lock_uses_the_token_the_other_stored(connection, app, reload):
    expire(connection)
    stale = CalendlyConnection.get_by_id(connection.id)
    lock = get_redis().lock(lock_key(connection.id), timeout=30)
    assert lock.acquire()
    # While "another worker" holds the lock, it renews and stores new tokens.
    CalendlyClient(CalendlyConnection.get_by_id(connection.id))._store_tokens(
        CalendlyClient(CalendlyConnection.get_by_id(connection.id))._token_grant(stale.refresh_token))
    renewed = reload(connection)
    lock.release()
    CalendlyClient(stale).me()  # must not spend the already-used refresh token
    assert stale.access_token == renewed.access_token
    assert reload(connection).status == Status.CONNECTED


def test_refused_renewal_turns_the_connection_to_reconnect_needed(connection, stack, reload):
    creds = stack["creds"]
    requests.post(stack["sandbox_url"] + "/oauth/revoke", timeout=10, data={
        "client_id": creds["client_id"], "client_secret": creds["client_secret"], "token": connection.refresh_token})
    with pytest.raises(ReconnectNeeded):
        CalendlyClient(expire(connection)).me()
    stored = reload(connection)
    assert stored.status == Status.RECONNECT_NEEDED
    assert stored.status_label == "Reconnect needed"
    assert "Connect Calendly again" in stored.last_error and connection.refresh_token not in stored.last_error


def test_a_401_renews_once_and_retries(connection, reload):
    CalendlyConnection.update(access_token="not-a-valid-token").where(
        CalendlyConnection.id == connection.id).execute()
    conn = reload(connection)
    assert CalendlyClient(conn).me()["uri"] == connection.calendly_user_uri
    assert reload(connection).access_token not in ("not-a-valid-token", connection.access_token)


def test_short_rate_limit_is_waited_out(connection, sandbox):
    sandbox.faults(rate_limit_per_minute=1)
    waited = []

    def sleep(seconds):  # the window "passes": lift the limit instead of sleeping a minute
        waited.append(seconds)
        sandbox.faults(rate_limit_per_minute=None)

    client = CalendlyClient(connection, sleep=sleep)
    client.max_rate_wait = 120
    client.me()
    client.me()  # the second call in the same minute gets 429
    assert len(waited) == 1 and 0 < waited[0] <= 60


def test_long_rate_limit_raises_with_retry_after(connection, sandbox):
    sandbox.faults(rate_limit_per_minute=1)
    client = CalendlyClient(connection, sleep=lambda s: None)
    client.max_rate_wait = 0
    client.me()
    with pytest.raises(RateLimited) as caught:
        client.me()
    assert caught.value.status == 429 and 0 < caught.value.retry_after <= 60


def test_server_errors_are_retried_with_backoff(connection, sandbox):
    sandbox.faults(api_error_rate=1.0)
    pauses = []

    def sleep(seconds):
        pauses.append(seconds)
        if len(pauses) == 2:
            sandbox.faults(api_error_rate=None)  # Calendly recovers before the third try

    assert CalendlyClient(connection, sleep=sleep).me()["uri"] == connection.calendly_user_uri
    assert pauses == sorted(pauses) and pauses[1] > pauses[0]  # exponential


def test_persistent_server_errors_raise_transient_error(connection, sandbox, reload):
    sandbox.faults(api_error_rate=1.0)
    pauses = []
    with pytest.raises(TransientError) as caught:
        CalendlyClient(connection, sleep=pauses.append).me()
    assert caught.value.status == 500 and len(pauses) == 2  # three tries
    assert reload(connection).status == Status.CONNECTED  # temporary: no status change


def test_unreachable_calendly_raises_transient_error(connection, app):
    client = CalendlyClient(connection, sleep=lambda s: None)
    client.api_base = "http://127.0.0.1:9"  # nothing listens there
    with pytest.raises(TransientError):
        client.me()


def test_event_types_follow_every_page(connection, sandbox):
    email = connection.calendly_email
    for i in range(103):
        sandbox.create_event_type(f"Slot {i:03d}", hosts=[email])
    names = [et["name"] for et in CalendlyClient(connection).list_event_types(connection.calendly_user_uri)]
    assert len(names) == 103 and len(set(names)) == 103


def test_hosts_of_a_shared_event_type(connection, sandbox):
    sandbox.create_user("colleague@calendly.test",
                        organization=connection.organization_uri)
    et = sandbox.create_event_type("Team intro", hosts=[connection.calendly_email, "colleague@calendly.test"],
                                   pooling_type="round_robin")
    hosts = CalendlyClient(connection).list_event_type_hosts(et["uri"])
    assert sorted(h["member"]["email"] for h in hosts) == ["colleague@calendly.test", connection.calendly_email]


def test_webhook_subscription_lifecycle(connection, sandbox, stack):
    client = CalendlyClient(connection)
    url = stack["portal_url"] + "/webhooks/calendly/" + connection.webhook_token
    sub = client.create_webhook_subscription(url, "per-connection-key")
    assert sub["state"] == "active" and sub["callback_url"] == url
    assert sorted(sub["events"]) == ["invitee.canceled", "invitee.created"] and sub["scope"] == "user"
    assert client.get_webhook_subscription(sub["uri"])["uri"] == sub["uri"]
    # Asking again for the same URL (a retried request) gives back the same subscription, no duplicate.
    assert client.create_webhook_subscription(url, "per-connection-key")["uri"] == sub["uri"]
    assert len([s for s in sandbox.subscriptions() if s.get("state") == "active"]) == 1
    assert client.delete_webhook_subscription(sub["uri"]) is True
    assert client.delete_webhook_subscription(sub["uri"]) is False
    with pytest.raises(NotFound):
        client.get_webhook_subscription(sub["uri"])


def test_plan_gate_on_webhooks_sets_plan_not_supported(connection, sandbox, stack, reload):
    sandbox.update_user(connection.calendly_user_uri, plan="basic", stage="free")
    with pytest.raises(PlanNotSupported) as caught:
        CalendlyClient(connection).create_webhook_subscription(stack["portal_url"] + "/webhooks/calendly/x", "k")
    assert caught.value.status == 403 and "upgrade" in caught.value.message.lower()
    stored = reload(connection)
    assert stored.status == Status.PLAN_NOT_SUPPORTED and stored.status_label == "Plan not supported"


def test_revoke_ends_access(connection, reload):
    CalendlyClient(connection).revoke()
    with pytest.raises(ReconnectNeeded):
        CalendlyClient(reload(connection)).me()
    assert reload(connection).status == Status.RECONNECT_NEEDED
