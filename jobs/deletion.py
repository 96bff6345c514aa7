"""RQ entry points for removing what was synced (SPEC D3, D5); enqueue by dotted path, ids only.

- ``purge_calendar(task_id)``: delete a calendar's appointments in batches,
  progress on the ``Task`` row (queue ``bulk``, job id ``purge-<task_id>``);
- ``release_connection(connection_id)``: delete the webhook subscription and
  revoke the tokens of a disconnected connection when Calendly could not be
  reached during the Disconnect itself (queue ``default``, ``release-<id>``).
"""
from jobs.context import job
from portal.calendly.release import release_at_calendly
from portal.pipeline import purge


@job
def purge_calendar(task_id):
    return purge.run_purge(task_id)


@job
def release_connection(connection_id):
    return release_at_calendly(connection_id)
