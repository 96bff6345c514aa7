"""Resync now and Retry: the console's only writes, both audited (SPEC S2, D5)."""

import pytest
from rq import Queue
from rq.job import Job
from rq.registry import FailedJobRegistry
from rq.results import Result

from portal.extensions import db
from portal.models import AuditEntry, DeliveryState, WebhookDelivery
from portal.models.audit import record
from portal.queues import get_redis

from .console_helpers import table_rows, text_of


def _queue(app, name):
    with app.app_context():
        return Queue(name, connection=get_redis())


def _audit(action):
    with db.connection_context():
        return list(AuditEntry.select().where(AuditEntry.action == action))


def _fail_job(app, queue_name, func, args, job_id, error):
    """Put a job in RQ's failed registry, as a worker does when the job raises."""
    queue = _queue(app, queue_name)
    job = queue.enqueue(func, *args, job_id=job_id)
    queue.remove(job)
    job.set_status("failed")
    trace = f"Traceback (most recent call last):\n  ...\n{error}"
    Result.create_failure(job, ttl=600, exc_string=trace)
    FailedJobRegistry(queue=queue).add(job, exc_string=trace)
    return job


def test_resync_now_enqueues_the_reconciliation_and_audits_it(app, build, support_client):
    alice = build.connection("alice@acme.test", calendly_email="alice@calendly.test")
    resp = support_client.post(f"/support/connections/{alice.id}/resync", follow_redirects=True)
    assert resp.status_code == 200
    assert "Resync started" in text_of(resp.get_data(as_text=True))

    queue = _queue(app, "default")
    assert queue.job_ids == [f"reconcile-{alice.id}"]
    job = queue.fetch_job(f"reconcile-{alice.id}")
    assert job.func_name == "jobs.sync.reconcile_connection" and job.args == (alice.id,)

    (entry,) = _audit("support.resync")
    assert entry.actor.email == "support@agency.test"
    assert entry.subaccount_id == alice.subaccount_id
    assert entry.target == f"connection #{alice.id} (alice@calendly.test)" and entry.count == 1

    # Pressed again while the first is still queued: nothing is enqueued twice.
    resp = support_client.post(f"/support/connections/{alice.id}/resync", follow_redirects=True)
    assert "already queued or running" in resp.get_data(as_text=True)
    assert queue.count == 1 and len(_audit("support.resync")) == 1


def test_resync_is_refused_for_a_disconnected_connection(app, build, support_client):
    gone = build.connection("gone@acme.test", status="disconnected")
    resp = support_client.post(f"/support/connections/{gone.id}/resync", follow_redirects=True)
    assert "nothing to resync" in resp.get_data(as_text=True)
    assert _queue(app, "default").count == 0 and _audit("support.resync") == []


def test_retry_puts_a_failed_delivery_back_in_the_inbox_and_audits(app, build, support_client):
    alice = build.connection("alice@acme.test")
    failed = build.delivery(alice, DeliveryState.FAILED, invitee="https://api.calendly.com/x/invitees/1",
                            error="TransientError: Calendly answered 503 three times")
    page = support_client.get(f"/support/connections/{alice.id}").get_data(as_text=True)
    row = next(r for r in table_rows(page) if r[1].startswith(f"Webhook delivery #{failed.id}"))
    assert row[2] == "TransientError: Calendly answered 503 three times" and row[3] == "Retry"

    resp = support_client.post(f"/support/connections/{alice.id}/retry", data={"delivery": failed.id},
                               follow_redirects=True)
    assert f"Delivery #{failed.id} queued again." in text_of(resp.get_data(as_text=True))
    with db.connection_context():
        assert WebhookDelivery.get_by_id(failed.id).state == DeliveryState.QUEUED
    job = _queue(app, "sync").fetch_job(f"delivery-{failed.id}")
    assert job.func_name == "jobs.sync.apply_batch" and job.args == (failed.id,)
    (entry,) = _audit("support.retry")
    assert entry.target == f"delivery #{failed.id} of connection #{alice.id}"
    assert "No failed deliveries or jobs." in resp.get_data(as_text=True)

    # A second press finds nothing failed any more.
    resp = support_client.post(f"/support/connections/{alice.id}/retry", data={"delivery": failed.id},
                               follow_redirects=True)
    assert "no longer failed" in resp.get_data(as_text=True)
    assert len(_audit("support.retry")) == 1


def test_retry_cannot_reach_another_connections_delivery(build, support_client):
    alice = build.connection("alice@acme.test")
    bob = build.connection("bob@bright.test", "Bright Smiles")
    bobs = build.delivery(bob, DeliveryState.FAILED, error="boom")
    resp = support_client.post(f"/support/connections/{alice.id}/retry", data={"delivery": bobs.id})
    assert resp.status_code == 404
    with db.connection_context():
        assert WebhookDelivery.get_by_id(bobs.id).state == DeliveryState.FAILED


def test_failed_rq_jobs_of_the_connection_are_listed_and_requeued(app, build, support_client):
    alice = build.connection("alice@acme.test")
    bob = build.connection("bob@bright.test", "Bright Smiles")
    alices_delivery = build.delivery(alice, DeliveryState.APPLIED)
    _fail_job(app, "default", "jobs.sync.reconcile_connection", (alice.id,), f"reconcile-{alice.id}",
              "portal.calendly.errors.TransientError: Calendly is unavailable (503)")
    _fail_job(app, "sync", "jobs.sync.apply_batch", (alices_delivery.id,), None, "KeyError: 'payload'")
    _fail_job(app, "default", "jobs.sync.reconcile_connection", (bob.id,), f"reconcile-{bob.id}", "Bob's error")

    page = support_client.get(f"/support/connections/{alice.id}").get_data(as_text=True)
    jobs = [r for r in table_rows(page) if r[1].startswith("Job ")]
    assert len(jobs) == 2
    reconcile = next(r for r in jobs if f"reconcile-{alice.id}" in r[1])
    assert "jobs.sync.reconcile_connection · queue default" in reconcile[1]
    assert reconcile[2].startswith("portal.calendly.errors.TransientError: Calendly is unavailable (503)")
    assert any("KeyError: 'payload'" in r[2] for r in jobs)
    assert "Bob's error" not in page

    resp = support_client.post(f"/support/connections/{alice.id}/retry", data={"job": f"reconcile-{alice.id}"},
                               follow_redirects=True)
    assert f"Job reconcile-{alice.id} queued again." in text_of(resp.get_data(as_text=True))
    assert f"reconcile-{alice.id}" in _queue(app, "default").job_ids
    (entry,) = _audit("support.retry")
    assert entry.target == f"job reconcile-{alice.id} of connection #{alice.id}"

    # Another connection's failed job cannot be retried from here.
    resp = support_client.post(f"/support/connections/{alice.id}/retry", data={"job": f"reconcile-{bob.id}"},
                               follow_redirects=True)
    assert "no longer in the failed list" in resp.get_data(as_text=True)
    assert f"reconcile-{bob.id}" not in _queue(app, "default").job_ids


def test_retry_without_a_target_says_so(build, support_client):
    alice = build.connection("alice@acme.test")
    resp = support_client.post(f"/support/connections/{alice.id}/retry", data={}, follow_redirects=True)
    assert "Choose a failed delivery or job to retry." in resp.get_data(as_text=True)


@pytest.mark.csrf
def test_actions_need_the_csrf_token(app, build, support_client):
    alice = build.connection("alice@acme.test")
    resp = support_client.post(f"/support/connections/{alice.id}/resync")
    assert resp.status_code == 400
    assert _queue(app, "default").count == 0 and _audit("support.resync") == []


def test_audit_log_lists_who_did_what(app, build, support_client):
    alice = build.connection("alice@acme.test")
    support_client.post(f"/support/connections/{alice.id}/resync")
    with app.app_context(), db.connection_context():
        record("calendar.delete", actor=alice.user_id, subaccount=alice.subaccount_id,
               target="Intro call", count=12, detail="Delete chosen on removal")
    html = support_client.get("/support/audit").get_data(as_text=True)
    rows = table_rows(html)
    assert [r[2] for r in rows] == ["calendar.delete", "support.resync"]
    assert rows[0][1] == "alice@acme.test" and rows[0][3] == "Intro call" and rows[0][4] == "Acme Dental"
    assert rows[0][5] == "12"
    assert rows[1][1] == "support@agency.test" and rows[1][3].startswith(f"connection #{alice.id}")

    only = table_rows(support_client.get("/support/audit?action=support.resync").get_data(as_text=True))
    assert [r[2] for r in only] == ["support.resync"]


def test_connection_page_refreshes_itself_while_a_resync_runs(app, build, support_client):
    alice = build.connection("alice@acme.test")
    page = support_client.get(f"/support/connections/{alice.id}").get_data(as_text=True)
    assert 'hx-trigger="every 3s"' not in page
    support_client.post(f"/support/connections/{alice.id}/resync")
    fragment = support_client.get(f"/support/connections/{alice.id}", headers={"HX-Request": "true"})
    html = fragment.get_data(as_text=True)
    assert html.lstrip().startswith("<div id=\"connection-body\"") and 'hx-trigger="every 3s"' in html
    assert "Sync in progress" in html
    # Once the job is gone the fragment stops polling.
    with app.app_context():
        Job.fetch(f"reconcile-{alice.id}", connection=get_redis()).delete()
    html = support_client.get(f"/support/connections/{alice.id}", headers={"HX-Request": "true"}).get_data(
        as_text=True)
    assert 'hx-trigger="every 3s"' not in html


def test_redis_outage_is_reported_not_fatal(app, build, support_client):
    alice = build.connection("alice@acme.test")
    failed = build.delivery(alice, DeliveryState.FAILED, error="boom")
    app.config["REDIS_URL"] = "redis://127.0.0.1:1/0"  # nothing listens there
    assert "Redis cannot be reached" in support_client.get("/support/").get_data(as_text=True)
    page = support_client.get(f"/support/connections/{alice.id}").get_data(as_text=True)
    assert "The job queue (Redis) cannot be reached" in page
    resp = support_client.post(f"/support/connections/{alice.id}/resync", follow_redirects=True)
    assert "nothing was started" in resp.get_data(as_text=True)
    assert _audit("support.resync") == []
    assert support_client.get("/support/api/connections").get_json()["queues"] is None
    # A retried delivery goes back to the inbox, where the sweeper finds it later.
    resp = support_client.post(f"/support/connections/{alice.id}/retry", data={"delivery": failed.id},
                               follow_redirects=True)
    assert "will be applied as soon as Redis is back" in resp.get_data(as_text=True)
    with db.connection_context():
        assert WebhookDelivery.get_by_id(failed.id).state == DeliveryState.RECEIVED
