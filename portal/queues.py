"""Redis and the RQ queues every piece of background work goes through."""
from flask import current_app
from redis import Redis
from rq import Queue
from rq.job import Job

# Queues in priority order: a worker listening to all of them takes
# webhook deliveries before backfills and deletions.
QUEUE_NAMES = ("sync", "default", "bulk")

_connections = {}


def get_redis(url=None):
    url = url or current_app.config["REDIS_URL"]
    conn = _connections.get(url)
    if conn is None:
        conn = _connections[url] = Redis.from_url(url, socket_timeout=5, socket_connect_timeout=2)
    return conn


def get_queue(name="default"):
    return Queue(name, connection=get_redis(), is_async=current_app.config.get("RQ_ASYNC", True))


def claim_jobs(name, prefix, limit):
    """Take up to ``limit`` jobs whose id starts with ``prefix`` off the head of queue ``name``; their ids.

    Removing a job id from the queue list is atomic, so each job is won by one
    caller only; the job is deleted and the caller does its work. RQ's own
    bookkeeping of a job (dequeue, heartbeat, registries: a dozen Redis round
    trips) costs more than a delivery's apply or a workflow step, so a job
    does the ones queued behind it as well.
    """
    queue = get_queue(name)
    candidates = [j for j in queue.get_job_ids(0, limit) if j.startswith(prefix)]
    if not candidates:
        return []
    redis = get_redis()
    pipe = redis.pipeline(transaction=False)
    for candidate in candidates:
        queue.remove(candidate, pipeline=pipe)
    won = [c for c, removed in zip(candidates, pipe.execute()) if removed]
    if won:
        redis.delete(*[Job.key_for(c) for c in won])
    return won
