"""A starting gate for figure 3: every worker is held on a gate job until the clock starts.

A worker takes jobs the moment it registers, before the bench has seen it do
so, and two workers start a second or so apart; a fast run (the no-op
reference drains thousands of deliveries a second) could be half over
before the clock started. So one gate job per worker is queued at the head:
each worker takes one and waits on a Redis key; once every gate is taken the
bench sets the key and starts the clock, and all workers start together.
"""
import time

from rq import get_current_job

GATE_JOB = "benchmarks.gate.wait"
KEY = "calbridge:bench:gate"


def wait(key=KEY, timeout=120):
    """The gate job: returns once ``key`` exists (polled every millisecond, up to ``timeout`` s)."""
    redis = get_current_job().connection
    deadline = time.monotonic() + timeout
    while not redis.exists(key):
        if time.monotonic() > deadline:
            raise TimeoutError("the bench never opened the gate")
        time.sleep(0.001)


def close(queue, workers):
    """Queue one gate job per worker at the head of ``queue``; returns their job ids."""
    queue.connection.delete(KEY)
    return [queue.enqueue(GATE_JOB, job_id=f"bench-gate-{n}", at_front=True, result_ttl=0).id
            for n in range(workers)]


def open_when_taken(queue, gate_ids, timeout=60):
    """Wait until every gate job has a worker, open the gate; returns the moment it opened."""
    deadline = time.monotonic() + timeout
    while set(queue.get_job_ids(0, len(gate_ids) + 1)) & set(gate_ids):
        if time.monotonic() > deadline:
            raise TimeoutError("the workers did not take their gate jobs")
        time.sleep(0.002)
    queue.connection.set(KEY, 1, ex=600)
    return time.monotonic()
