"""``python -m jobs.worker``: an RQ worker for every Calbridge queue.

A ``SimpleWorker`` runs jobs in its own process instead of forking one per
job (about four times the throughput measured here); crash safety does not
depend on the fork, because every delivery is durable in the database inbox
and the sweeper re-enqueues what a dead worker left behind. A Redis outage
does not end the process (``jobs.reconnect``); a crash is the supervisor's
to restart (``make run``, or systemd in production).
"""
import argparse
import logging
import sys

from rq import Queue
from rq.exceptions import StopRequested
from rq.worker import SimpleWorker

from jobs.context import get_app
from jobs.reconnect import REDIS_DOWN, clear_stale_registration, release_dead_scheduler_locks, run_reconnecting
from portal.queues import QUEUE_NAMES, get_redis


class Worker(SimpleWorker):
    """RQ's worker, telling the reconnect loop about a stop request even while Redis is down."""

    stop = None

    def request_stop(self, signum, frame):
        if self.stop is not None:
            self.stop.set()
        try:
            super().request_stop(signum, frame)
        except REDIS_DOWN:
            raise StopRequested()  # RQ asks Redis whether a job runs; with Redis gone none can finish


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--burst", action="store_true", help="stop when the queues are empty")
    parser.add_argument("--name", default=None)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    app = get_app()
    with app.app_context():
        redis = get_redis()

        def work(stop):
            queues = [Queue(name, connection=redis) for name in QUEUE_NAMES]
            worker = Worker(queues, connection=redis, name=args.name)
            worker.stop = stop
            clear_stale_registration(worker)
            release_dead_scheduler_locks(redis, QUEUE_NAMES)
            worker.work(burst=args.burst, with_scheduler=True, logging_level="WARNING")
            if args.burst:
                stop.set()  # the queues are empty: done

        return run_reconnecting(work, redis, "The worker")


if __name__ == "__main__":
    sys.exit(main())
