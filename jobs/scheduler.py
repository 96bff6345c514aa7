"""``python -m jobs.scheduler``: the periodic sync work, on RQ's own cron scheduler.

- ``reconcile_all`` every ``RECONCILE_INTERVAL_SECONDS`` (SPEC E5, C5, C7);
- ``sweep_inbox`` every ``SWEEP_INTERVAL_SECONDS`` (a delivery stored while
  Redis was down, or left by a dead worker, is applied anyway);
- ``sweep_outbox`` and ``sweep_connection_alerts`` every ``MAIL_SWEEP_INTERVAL_SECONDS``
  (email left queued by an outage; an alert whose trigger was lost).

It only enqueues; the workers run the jobs. Run one scheduler per Redis.
A Redis outage does not end it (``jobs.reconnect``).
"""
import argparse
import logging
import sys

from rq.cron import CronScheduler

from jobs import mail, sync
from jobs.context import get_app
from jobs.reconnect import run_reconnecting
from portal.queues import get_redis

SWEEP_INTERVAL_SECONDS = 15
MAIL_SWEEP_INTERVAL_SECONDS = 30


class Scheduler(CronScheduler):
    """RQ's cron scheduler, telling the reconnect loop about a stop request."""

    stop = None

    def _request_stop(self, signum, frame):
        if self.stop is not None:
            self.stop.set()
        super()._request_stop(signum, frame)


def build(app, redis):
    """A ``CronScheduler`` with the sync jobs registered."""
    scheduler = Scheduler(connection=redis, logging_level="INFO", name=app.config.get("SCHEDULER_NAME", ""))
    scheduler.register(sync.reconcile_all, "default", interval=int(app.config["RECONCILE_INTERVAL_SECONDS"]),
                       result_ttl=600)
    scheduler.register(sync.sweep_inbox, "sync", interval=SWEEP_INTERVAL_SECONDS, result_ttl=60)
    scheduler.register(mail.sweep_outbox, "default", interval=MAIL_SWEEP_INTERVAL_SECONDS, result_ttl=60)
    scheduler.register(mail.sweep_connection_alerts, "default", interval=MAIL_SWEEP_INTERVAL_SECONDS, result_ttl=60)
    return scheduler


def main(argv=None):
    argparse.ArgumentParser(description=__doc__).parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    app = get_app()
    with app.app_context():
        redis = get_redis()

        def schedule(stop):
            scheduler = build(app, redis)
            scheduler.stop = stop
            scheduler.start()

        return run_reconnecting(schedule, redis, "The scheduler")


if __name__ == "__main__":
    sys.exit(main())
