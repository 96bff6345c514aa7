"""OAuth tokens, signing keys and the client secret never leave the vault (SPEC T1, C6, C7).

One account goes through everything that touches a secret — connect through
the portal's pages, the first Save (webhook subscription with its signing
key), webhooks applied by the worker, a token renewal in the worker, a
refused renewal, a failing job — and then every place a secret could leak is
read: the portal's log records (debug level), the worker's log file, every
page a user and support staff can open (full and HTMX), and everything in
Redis, RQ's job arguments and raw job hashes included.
"""
import os
import re
from datetime import timedelta

import pytest
from rq import Queue

from portal.models import Appointment, CalendlyConnection, Contact, Status
from portal.queues import get_redis
from portal.pipeline.reconcile import RECONCILE_JOB, enqueue_once
from portal.timeutil import utcnow

from .helpers import Booker, authorize, job_arguments, leaks, redis_texts, tally, url_for_rule, wait_until

pytestmark = pytest.mark.reliability

CONNECTIONS = "/calendars/settings/connections"


def run_reconcile(app, connection_id):
    """Enqueue the reconciliation for the session's worker and wait for it to end."""
    with app.app_context():
        enqueue_once(RECONCILE_JOB, connection_id)
        job = Queue("default", connection=get_redis()).fetch_job(f"reconcile-{connection_id}")
    wait_until(lambda: job.get_status(refresh=True) in ("finished", "failed"), timeout=30,
               message="the reconciliation job")
    return job.get_status()


def every_get_page(app, client, ids, prefix=None):
    shown = {}
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint in ("static", "connections.connect_calendly",
                                                          "connections.calendly_callback"):
            continue
        if prefix is not None and not rule.endpoint.startswith(prefix):
            continue
        url = url_for_rule(rule, ids)
        for htmx in (False, True):
            resp = client.get(url, headers={"HX-Request": "true"} if htmx else {}, follow_redirects=True)
            shown[f"page {url}{' (htmx)' if htmx else ''} [{resp.status_code}]"] = resp.get_data(as_text=True)
    return shown


def test_no_secret_in_logs_pages_or_jobs(app, client, auth, people, stack, sandbox, live_server, worker, secrets,
                                        debug_logs, reliability_report):
    people.user("ada@acme.test", role="admin")
    people.user("support@agency.test", subaccount=None, support=True)
    sandbox.create_user("ada@cal.test")
    calendar = sandbox.create_event_type("Cleaning", hosts=["ada@cal.test"])
    auth.login("ada@acme.test")

    # Connect through the portal's own pages (authorization code + PKCE, exchanged by the portal).
    location = client.post(f"{CONNECTIONS}/calendly/connect").headers["Location"]
    answer = authorize(stack, "ada@cal.test", url=location)
    back = client.get("/connections/calendly/callback", query_string={"code": answer["code"],
                                                                     "state": answer["state"]})
    conn_id = int(re.search(r"select=(\d+)", back.headers["Location"]).group(1))
    saved = client.post(f"{CONNECTIONS}/{conn_id}/calendars", data={"event_type": calendar["uri"], "consent": "yes"})
    assert saved.status_code == 303, saved.get_data(as_text=True)[:300]
    with app.app_context():
        secrets.from_connections()
    wait_until(lambda: CalendlyConnection.get_by_id(conn_id).status == Status.CONNECTED, timeout=30,
               message="the backfill")

    # Webhooks through the live portal to the session's worker.
    booker = Booker(sandbox, calendar["uri"])
    booker.book(3)
    wait_until(lambda: tally(booker.uris)["lost"] == 0, timeout=20, message="the webhooks")

    # A renewal in the worker, then a refused one (Reconnect needed), then a failing job.
    CalendlyConnection.update(token_expires_at=utcnow() - timedelta(seconds=1)).where(
        CalendlyConnection.id == conn_id).execute()
    assert run_reconcile(app, conn_id) == "finished"
    with app.app_context():
        secrets.from_connections()
    sandbox.faults(api_error_rate=1.0)
    assert run_reconcile(app, conn_id) == "failed"  # kept by RQ with its traceback
    sandbox.clear_faults()
    sandbox.revoke_all_tokens("ada@cal.test")
    CalendlyConnection.update(token_expires_at=utcnow() - timedelta(seconds=1)).where(
        CalendlyConnection.id == conn_id).execute()
    run_reconcile(app, conn_id)
    assert CalendlyConnection.get_by_id(conn_id).status == Status.RECONNECT_NEEDED

    # Every page Ada and support staff can open.
    ids = {"connection_id": conn_id, "appointment_id": Appointment.select().first().id,
           "contact_id": Contact.select().first().id, "task_id": 0, "email_id": 0, "token": "not-a-signed-link",
           # Workflows and team pages: an id of none (their 404 pages must not leak either).
           **dict.fromkeys(("workflow_id", "step_id", "enrolment_id", "follow_up_id", "notification_id",
                            "membership_id", "subaccount_id", "invitation_id"), 0)}
    places = every_get_page(app, client, ids)
    auth.logout()
    auth.login("support@agency.test")
    places.update(every_get_page(app, client, ids, prefix="support."))
    assert any("Reconnect needed" in text for text in places.values())

    worker_log = os.path.join(str(stack["base"]), "worker.log")
    with open(worker_log, errors="replace") as f:
        places["worker log"] = f.read()
    places["portal log records"] = debug_logs.text
    with app.app_context():
        redis = get_redis()
        places.update(redis_texts(redis))
        places.update(job_arguments(redis))
    # The scan is not vacuous: the worker renewed the token, the jobs and log records are there.
    assert f"renewed the Calendly token of connection {conn_id}" in places["worker log"]
    assert any(k.startswith(f"job reconcile-{conn_id}") for k in places)
    assert "Calendly GET /users/me -> 200" in places["portal log records"]
    assert len(secrets.values) >= 7  # client secret, app key, session and encryption keys, tokens, signing key
    assert leaks(secrets, places) == []
    reliability_report.check(
        f"Secrets: {len(secrets.values)} secret values vs {len(places)} places (logs, pages, Redis, job payloads)",
        "none found")
