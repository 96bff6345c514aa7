"""Several workers renewing the same Calendly token at once (SPEC C6).

Calendly refresh tokens are single-use: if two processes spent the same one,
the loser would be refused and the connection would turn to Reconnect
needed. Three separate processes (as three RQ workers would) call Calendly
at the same instant with an expired token; the Redis lock lets one renew and
the others use what it stored.
"""
import json
import os
import secrets as pysecrets
import subprocess
import time
from datetime import timedelta

import pytest

from portal.calendly.client import CalendlyClient
from portal.models import CalendlyConnection, Status
from portal.timeutil import utcnow
from sync.helpers import authorization_code, exchange_code

from .helpers import leaks, python

pytestmark = pytest.mark.reliability

CONTENDERS = 3
SCRIPT = os.path.join(os.path.dirname(__file__), "race_worker.py")


@pytest.fixture
def account(app_ctx, stack, sandbox, people, secrets):
    created = sandbox.create_user("race@cal.test", name="Race Calendly")
    redirect = stack["portal_url"] + "/connections/calendly/callback"
    code, verifier = authorization_code(stack["sandbox_url"], stack["creds"]["client_id"], redirect, "race@cal.test")
    token = exchange_code(stack, code, verifier, redirect)
    secrets.add_token_response(token)
    user = people.user("owner@acme.test")
    conn = CalendlyConnection.create(
        subaccount=people.subaccount(), user=user, calendly_user_uri=created["user"]["uri"],
        calendly_email="race@cal.test", organization_uri=created["organization"]["uri"], plan="professional",
        stage="paid", access_token=token["access_token"], refresh_token=token["refresh_token"],
        token_expires_at=utcnow() + timedelta(seconds=token["expires_in"]), status=Status.CONNECTED,
        webhook_token=pysecrets.token_urlsafe(16), connected_at=utcnow(), backfilled_at=utcnow())
    return conn


def issued(sandbox, user_uri):
    return sum(1 for t in sandbox.tokens() if t["kind"] == "access" and t["user"] == user_uri)


def race(stack, connection_id, tmp_path):
    start_at = time.time() + 4  # every contender has built its app by then
    runs = []
    for n in range(CONTENDERS):
        log = open(tmp_path / f"contender-{n}.log", "w+")
        runs.append((subprocess.Popen([python(), SCRIPT, str(connection_id), str(start_at)], env=stack["env"],
                                      stdout=subprocess.PIPE, stderr=log, text=True), log))
    results = []
    for process, log in runs:
        out, _ = process.communicate(timeout=60)
        log.seek(0)
        results.append((json.loads(out.strip().splitlines()[-1]), out + log.read()))
    return results


@pytest.mark.parametrize("how", ["expired", "revoked-early"])
def test_simultaneous_renewals_never_lose_the_connection(account, stack, sandbox, tmp_path, secrets, how,
                                                          reliability_report):
    """``expired``: the stored expiry has passed (renewal before the call); ``revoked-early``:
    Calendly rejects an access token that still looks valid (renewal after a 401)."""
    before = issued(sandbox, account.calendly_user_uri)
    if how == "expired":
        CalendlyConnection.update(token_expires_at=utcnow() - timedelta(seconds=1)).where(
            CalendlyConnection.id == account.id).execute()
    sandbox.expire_tokens("race@cal.test")

    results = race(stack, account.id, tmp_path)
    assert [r for r, _ in results] == [{"ok": True, "uri": account.calendly_user_uri}] * CONTENDERS
    stored = CalendlyConnection.get_by_id(account.id)
    assert stored.status == Status.CONNECTED and stored.last_error is None
    assert issued(sandbox, account.calendly_user_uri) == before + 1, "the token was renewed more than once"

    # The refresh token stored is the live one: the next renewal works too.
    CalendlyConnection.update(token_expires_at=utcnow() - timedelta(seconds=1)).where(
        CalendlyConnection.id == account.id).execute()
    CalendlyClient(CalendlyConnection.get_by_id(account.id)).me()
    assert CalendlyConnection.get_by_id(account.id).status == Status.CONNECTED

    secrets.from_connections()
    assert leaks(secrets, {f"contender {n} output": text for n, (_, text) in enumerate(results)}) == []
    reliability_report.check(f"Token race: {CONTENDERS} processes renewing one token at once ({how})",
                             "one renewal, all succeed, connection stays Connected")
