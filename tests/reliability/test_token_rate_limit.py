"""A busy connection stays under Calendly's 8 token requests per user per minute (issue 17, API-FACTS §8).

Four worker processes of five threads each (20 concurrent contenders, as 20 RQ jobs would be) keep
calling Calendly with one connection while Calendly invalidates its access token every second, so
every round ends in a refresh. The refresh lock lets one contender renew per round and the token
budget paces the renewals: the sandbox, which enforces Calendly's limit, never answers 429, never
issues more than 8 tokens in a minute, and the connection keeps a live refresh token.
"""
import json
import os
import subprocess
import time
from datetime import datetime, timedelta

import pytest
import requests

from portal.models import CalendlyConnection, Status

from .helpers import python
from .test_token_race import account  # noqa: F401 - the fixture

pytestmark = pytest.mark.reliability

PROCESSES, THREADS = 4, 5
ROUNDS = 12
SCRIPT = os.path.join(os.path.dirname(__file__), "token_pacing_worker.py")


def issued_times(sandbox, user_uri):
    return sorted(datetime.fromisoformat(t["created_at"].replace("Z", "+00:00")) for t in sandbox.tokens()
                  if t["kind"] == "access" and t["user"] == user_uri)


def most_in_a_minute(times):
    return max((sum(1 for u in times if t <= u < t + timedelta(seconds=60)) for t in times), default=0)


def refresh_token_is_live(stack, refresh_token):
    creds = stack["creds"]
    resp = requests.post(stack["sandbox_url"] + "/oauth/introspect", timeout=10, data={
        "client_id": creds["client_id"], "client_secret": creds["client_secret"], "token": refresh_token})
    return resp.json().get("active") is True


def test_20_concurrent_refreshes_in_4_processes_stay_under_8_token_requests_a_minute(account, stack, sandbox,
                                                                                     tmp_path):
    start_at = time.time() + 5  # every process has built its app by then
    until = start_at + ROUNDS + 4
    runs = []
    for n in range(PROCESSES):
        log = open(tmp_path / f"worker-{n}.log", "w+")
        runs.append((subprocess.Popen(
            [python(), SCRIPT, str(account.id), str(THREADS), str(start_at), str(until)],
            env=stack["env"], stdout=subprocess.PIPE, stderr=log, text=True), log))

    time.sleep(max(0.0, start_at - time.time()))
    for _ in range(ROUNDS):  # Calendly rejects the access token in use: the next call must renew it
        sandbox.expire_tokens("race@cal.test")
        time.sleep(1)

    totals = {}
    for process, log in runs:
        out, _ = process.communicate(timeout=120)
        log.seek(0)
        assert process.returncode == 0, log.read()[-2000:]
        for outcome, count in json.loads(out.strip().splitlines()[-1]).items():
            totals[outcome] = totals.get(outcome, 0) + count

    errors = {k: v for k, v in totals.items() if k not in ("ok", "paced")}
    assert errors == {}, f"calls failed: {errors}"
    assert totals.get("ok", 0) >= PROCESSES * THREADS
    times = issued_times(sandbox, account.calendly_user_uri)
    assert len(times) > 2, "the test did not make the connection renew its token"
    assert most_in_a_minute(times) <= 8, f"{most_in_a_minute(times)} token requests in one minute"

    stored = CalendlyConnection.get_by_id(account.id)
    assert stored.status == Status.CONNECTED and stored.last_error is None
    assert refresh_token_is_live(stack, stored.refresh_token), "the connection lost its refresh token"
