"""Redis and the RQ queues every piece of background work goes through."""
from flask import current_app
from redis import Redis
from rq import Queue

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
