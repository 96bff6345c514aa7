"""The background purge (SPEC D4, D5): one task per calendar, batches, progress, stop, failure and retry."""
from datetime import timedelta

import pytest
from rq import Queue

from sync.helpers import make_connection, private_redis, select  # noqa: F401 (fixture)

from portal.models import Appointment, AuditEntry, Contact, Task
from portal.queues import get_redis
from portal.pipeline import purge
from portal.sync import deletion
from portal.timeutil import utcnow

CLEANING = "https://api.calendly.com/event_types/cleaning"
SHARED = "https://api.calendly.com/event_types/team"


@pytest.fixture
def ann(app_ctx, people, private_redis):  # noqa: F811
    user = people.user("ann@acme.test")
    sub = people.subaccount()
    conn = make_connection(user, sub)
    select(conn, CLEANING, "Cleaning")
    return user, sub, conn


def appointments(sub, owner, n, uri=CLEANING):
    contact = Contact.create(subaccount=sub, email="g@x.test", email_normalized="g@x.test", assigned_user=owner)
    now = utcnow()
    for i in range(n):
        Appointment.create(subaccount=sub, title="Cleaning", start=now + timedelta(days=1, hours=i),
                           end=now + timedelta(days=1, hours=i, minutes=30), contact=contact, owner=owner,
                           invitee_uri=f"{uri}/invitees/{i}", event_type_uri=uri, booked_at=now)
    return contact


def bulk_jobs():
    return Queue("bulk", connection=get_redis()).jobs


def test_a_delete_answer_queues_one_purge_task_per_calendar(ann):
    user, sub, conn = ann
    appointments(sub, user, 3)
    deletion.close_selection(conn, CLEANING, deletion.DELETE)
    req = purge.request_purge(sub.id, CLEANING, "Cleaning", connection=conn, actor=user)
    assert (req.count, req.waiting) == (3, 0)
    task = req.task
    assert (task.kind, task.state, task.total, task.done, task.requested_by_id) == ("purge_calendar", "queued", 3, 0,
                                                                                   user.id)
    (job,) = bulk_jobs()
    assert (job.id, job.func_name, job.args) == (f"purge-{task.id}", "jobs.deletion.purge_calendar", (task.id,))
    # A second answer while it is queued reuses the task.
    assert purge.request_purge(sub.id, CLEANING, "Cleaning", connection=conn, actor=user).task.id == task.id
    assert Task.select().count() == 1


def test_run_purge_deletes_in_batches_with_progress_and_audit(ann, monkeypatch):
    user, sub, conn = ann
    contact = appointments(sub, user, 5)
    deletion.close_selection(conn, CLEANING, deletion.DELETE)
    task = purge.request_purge(sub.id, CLEANING, "Cleaning", connection=conn, actor=user).task
    seen = []
    original = deletion.purge_batch

    def spy(*args):
        n = original(*args)
        seen.append(Task.get_by_id(task.id).done)
        return n

    monkeypatch.setattr(deletion, "purge_batch", spy)
    assert purge.run_purge(task.id, batch_size=2) == 5
    assert seen == [0, 2, 4, 5]  # progress stored after each batch
    task = Task.get_by_id(task.id)
    assert (task.state, task.done, task.percent) == ("done", 5, 100) and task.finished_at is not None
    assert Appointment.select().count() == 0 and Contact.get_by_id(contact.id).assigned_user_id is None
    entry = AuditEntry.get(AuditEntry.action == "calendar.purged")
    assert (entry.actor_id, entry.target, entry.count) == (user.id, "Cleaning", 5)
    assert purge.run_purge(task.id) == 0  # a finished task is not run again


def test_reselecting_while_it_runs_stops_the_purge(ann, monkeypatch):
    user, sub, conn = ann
    appointments(sub, user, 6)
    deletion.close_selection(conn, CLEANING, deletion.DELETE)
    task = purge.request_purge(sub.id, CLEANING, "Cleaning", connection=conn, actor=user).task
    original = deletion.purge_batch

    def reselect_after_first_batch(*args):
        n = original(*args)
        select(conn, CLEANING, "Cleaning", selected_from=utcnow() + timedelta(seconds=1))
        return n

    monkeypatch.setattr(deletion, "purge_batch", reselect_after_first_batch)
    assert purge.run_purge(task.id, batch_size=2) == 2
    task = Task.get_by_id(task.id)
    assert task.state == "stopped" and Appointment.select().count() == 4
    assert task.error == ("Stopped: Cleaning was selected again by a member who connected it, "
                          "so its other 4 events stay.")


def test_a_failed_purge_says_so_and_can_be_retried(ann, monkeypatch):
    user, sub, conn = ann
    appointments(sub, user, 2)
    deletion.close_selection(conn, CLEANING, deletion.DELETE)

    def broken(*args):
        raise RuntimeError("disk full")

    task = purge.request_purge(sub.id, CLEANING, "Cleaning", connection=conn, actor=user).task
    monkeypatch.setattr(deletion, "purge_batch", broken)
    with pytest.raises(RuntimeError):
        purge.run_purge(task.id)
    assert (Task.get_by_id(task.id).state, Task.get_by_id(task.id).error) == (
        "failed", "Deleting stopped on an error: disk full")
    monkeypatch.undo()
    assert purge.enqueue_purge(Task.get_by_id(task.id))
    assert Task.get_by_id(task.id).state == "queued"
    assert purge.run_purge(task.id) == 2 and Task.get_by_id(task.id).state == "done"


def test_a_queue_outage_marks_the_task_failed_with_a_message(ann, app):
    user, sub, conn = ann
    appointments(sub, user, 1)
    deletion.close_selection(conn, CLEANING, deletion.DELETE)
    app.config["REDIS_URL"] = "redis://127.0.0.1:1/0"  # nothing listens there
    task = purge.request_purge(sub.id, CLEANING, "Cleaning", connection=conn, actor=user).task
    task = Task.get_by_id(task.id)
    assert task.state == "failed" and "could not be started" in task.error
    assert Appointment.select().count() == 1


def test_waiting_deletions_lists_shared_calendars_awaiting_other_members(app_ctx, people, private_redis):  # noqa: F811
    ann, bob = people.user("ann@acme.test"), people.user("bob@acme.test")
    sub = people.subaccount()
    conn_a, conn_b = make_connection(ann, sub), make_connection(bob, sub)
    select(conn_a, SHARED, "Team intake", shared=True)
    select(conn_b, SHARED, "Team intake", shared=True)
    appointments(sub, ann, 4, uri=SHARED)
    assert deletion.waiting_deletions(sub.id, ann.id) == []
    deletion.close_selection(conn_a, SHARED, deletion.DELETE)
    # (name, events, members not agreed, of whom chose Keep): Bob still has it selected.
    assert deletion.waiting_deletions(sub.id, ann.id) == [("Team intake", 4, 1, 0)]
    assert deletion.waiting_deletions(sub.id, bob.id) == []
    req = purge.request_purge(sub.id, SHARED, "Team intake", connection=conn_a, actor=ann)
    assert (req.count, req.task, req.waiting) == (4, None, 1) and not bulk_jobs()
