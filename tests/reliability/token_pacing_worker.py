"""One worker process of the token pacing test (run as its own process by ``test_token_rate_limit``).

``python token_pacing_worker.py <connection id> <threads> <start at> <until>`` (unix times): builds the
app from the environment like an RQ worker, then each thread calls Calendly with the connection from
the start time until ``until``. A ``RateLimited`` is handed back as RQ would retry a job: after
a pause. Prints one JSON line of counts: calls that worked, paced by the portal, refused by Calendly
with 429, and any other error.
"""
import json
import sys
import threading
import time

from jobs.context import get_app
from portal.calendly.client import CalendlyClient
from portal.calendly.errors import RateLimited
from portal.extensions import db
from portal.models import CalendlyConnection

CALENDLY_429 = "token endpoint"


def contender(app, connection_id, start_at, until, counts, lock):
    with app.app_context():
        db.connect(reuse_if_open=True)
        time.sleep(max(0.0, start_at - time.time()))
        while time.time() < until:
            outcome = "ok"
            try:
                CalendlyClient(CalendlyConnection.get_by_id(connection_id)).me()
            except RateLimited as exc:
                outcome = "calendly_429" if CALENDLY_429 in str(exc) else "paced"
                time.sleep(min(exc.retry_after, 1.0))
            except Exception as exc:  # noqa: BLE001 - the test reports it
                outcome = f"error {type(exc).__name__}: {exc}"
            with lock:
                counts[outcome] = counts.get(outcome, 0) + 1
            time.sleep(0.2)
        db.close()


def main(connection_id, threads, start_at, until):
    app = get_app()
    counts, lock = {}, threading.Lock()
    runs = [threading.Thread(target=contender, args=(app, connection_id, start_at, until, counts, lock))
            for _ in range(threads)]
    for run in runs:
        run.start()
    for run in runs:
        run.join()
    print(json.dumps(counts), flush=True)


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]))
