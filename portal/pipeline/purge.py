"""Deleting a calendar's appointments in the background (SPEC D4, D5).

``request_purge`` creates a ``Task`` row (what the Connections page shows as
progress) and enqueues ``jobs.deletion.purge_calendar(task_id)`` on the
"bulk" queue; ``run_purge`` deletes ``DELETE_BATCH_SIZE`` appointments per
transaction (``portal.sync.deletion.purge_batch``, which re-checks consent)
until none is left.
"""
import logging
from collections import namedtuple

from flask import current_app
from redis.exceptions import RedisError
from rq import Retry

from portal import live
from portal.models import Task, TaskState
from portal.models.audit import record
from portal.queues import get_queue
from portal.sync import deletion
from portal.timeutil import utcnow

log = logging.getLogger(__name__)

# What a Delete answer led to: a queued purge ``task``, or ``waiting`` on
# other members (D4); ``count`` is the number of appointments concerned.
PurgeRequest = namedtuple("PurgeRequest", "count task waiting")

PURGE_JOB = "jobs.deletion.purge_calendar"
PURGE_KIND = "purge_calendar"
ACTIVE_TASK_STATES = TaskState.ACTIVE
PURGE_TIMEOUT = 2 * 3600
PURGE_RETRY = dict(max=3, interval=[10, 60, 300])


def active_purge(subaccount_id, event_type_uri):
    """The queued or running purge of this calendar, if any."""
    return Task.select().where(
        (Task.subaccount == subaccount_id) & (Task.kind == PURGE_KIND)
        & (Task.event_type_uri == event_type_uri) & Task.state.in_(ACTIVE_TASK_STATES)
    ).first()


def request_purge(subaccount_id, event_type_uri, name, *, connection=None, actor=None):
    """After a Delete answer: start the purge if every member agreed (D4), else say who is awaited.

    Returns a ``PurgeRequest``. A purge already under way for the calendar
    is reused, so two answers never start two jobs.
    """
    count = deletion.count_for_calendar(subaccount_id, event_type_uri)
    agreement = deletion.consensus(subaccount_id, event_type_uri)
    if not agreement.agreed:
        return PurgeRequest(count, None, len(agreement.waiting_on))
    if not count:
        return PurgeRequest(0, None, 0)
    task = active_purge(subaccount_id, event_type_uri)
    if task is None:
        task = Task.create(
            subaccount=subaccount_id, connection=getattr(connection, "id", connection), kind=PURGE_KIND,
            description=name[:255], event_type_uri=event_type_uri, total=count, requested_by=actor,
        )
        enqueue_purge(task)
    return PurgeRequest(count, task, 0)


def enqueue_purge(task):
    """Queue ``jobs.deletion.purge_calendar(task.id)`` on "bulk" as ``purge-<task id>``.

    If Redis cannot take it, the task is marked failed with a message; its
    Retry action queues it again.
    """
    job_id = f"purge-{task.id}"
    Task.update(state=TaskState.QUEUED, error=None, rq_job_id=job_id, finished_at=None).where(Task.id == task.id).execute()
    task.state, task.error, task.rq_job_id = TaskState.QUEUED, None, job_id
    try:
        get_queue("bulk").enqueue(PURGE_JOB, task.id, job_id=job_id, job_timeout=PURGE_TIMEOUT,
                                  retry=Retry(**PURGE_RETRY))
    except RedisError as exc:
        log.warning("could not queue purge task %s: %s", task.id, exc)
        _finish(task.id, TaskState.FAILED, error="The deletion could not be started (the job queue is unavailable). "
                                         "Try again in a moment.")
        return False
    return True


def run_purge(task_id, batch_size=None):
    """``jobs.deletion.purge_calendar``: delete the calendar's appointments batch by batch (D5).

    Progress is stored on the task after every batch. Stops (state
    ``stopped``) if a member selects the calendar again meanwhile (D4).
    Returns the number deleted by this run.
    """
    task = Task.get_or_none(Task.id == task_id)
    if task is None or task.state in TaskState.ENDED:
        return 0
    batch_size = batch_size or current_app.config.get("DELETE_BATCH_SIZE", 500)
    Task.update(state=TaskState.RUNNING, error=None).where(Task.id == task_id).execute()
    subaccount_id, uri = task.subaccount_id, task.event_type_uri
    deleted, done = 0, task.done
    try:
        while n := deletion.purge_batch(subaccount_id, uri, batch_size):
            deleted += n
            done += n
            Task.update(done=done).where(Task.id == task_id).execute()
    except Exception as exc:
        _finish(task_id, TaskState.FAILED, error=f"Deleting stopped on an error: {exc}"[:2000], done=done)
        raise
    remaining = deletion.count_for_calendar(subaccount_id, uri)
    if remaining and not deletion.consensus(subaccount_id, uri).agreed:
        _finish(task_id, TaskState.STOPPED, done=done, error=(
            f"Stopped: {task.description} was selected again by a member who connected it, "
            f"so its other {remaining} events stay."))
        detail = f"Stopped after {deleted} because the calendar was selected again; contacts kept"
    else:
        _finish(task_id, TaskState.DONE, done=done, total=max(task.total, done))
        detail = "Contacts kept; assigned users recomputed"
    record("calendar.purged", actor=task.requested_by_id, subaccount=subaccount_id, target=task.description,
           count=deleted, detail=detail)
    live.touch(subaccount_id)  # open pages drop the deleted appointments and the notices about them
    return deleted


def _finish(task_id, state, **fields):
    Task.update(state=state, finished_at=utcnow(), **fields).where(Task.id == task_id).execute()
