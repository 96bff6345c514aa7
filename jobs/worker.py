"""``python -m jobs.worker``: an RQ worker for every Calbridge queue.

A ``SimpleWorker`` runs jobs in its own process instead of forking one per
job (about four times the throughput measured here); crash safety does not
depend on the fork, because every delivery is durable in the database inbox
and the sweeper re-enqueues what a dead worker left behind.
"""
import argparse
import logging

from rq import Queue
from rq.worker import SimpleWorker

from jobs.context import get_app
from portal.queues import QUEUE_NAMES, get_redis


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--burst", action="store_true", help="stop when the queues are empty")
    parser.add_argument("--name", default=None)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    app = get_app()
    with app.app_context():
        redis = get_redis()
        queues = [Queue(name, connection=redis) for name in QUEUE_NAMES]
        worker = SimpleWorker(queues, connection=redis, name=args.name)
        worker.work(burst=args.burst, with_scheduler=True, logging_level="WARNING")


if __name__ == "__main__":
    main()
