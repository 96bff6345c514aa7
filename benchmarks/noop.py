"""The reference job of figure 3: RQ's job path with no work in it.

Wrapped like ``jobs.sync.apply_batch`` (app context, database
connection), so "apply rate / no-op rate" is the share of the worker's
time left to the sync itself.
"""
from jobs.context import job


@job
def noop(delivery_id):
    return None
