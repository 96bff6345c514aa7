"""One contender for the same queued deliveries (run as its own process by ``test_concurrent_workers``).

``python claim_worker.py <batch>``: builds the app from the environment like
an RQ worker does, prints ``ready`` and waits for ``go`` on its stdin (the
test's barrier: every contender is up before any claims), then takes batches
off the ``sync`` queue with ``batches.claim_queued`` until it is empty,
pausing a little after each as if applying them. Prints one JSON line: the
delivery ids it claimed.
"""
import json
import sys
import time

from jobs.context import get_app
from portal.pipeline.batches import claim_queued
from portal.pipeline.inbox import QUEUE
from portal.queues import get_queue, get_redis


def main(batch):
    app = get_app()
    claimed = []
    with app.app_context():
        get_redis().ping()  # connected before the barrier
        print("ready", flush=True)
        if sys.stdin.readline().strip() != "go":
            return
        began = time.time()
        while True:
            got = claim_queued(batch)
            if not got and get_queue(QUEUE).count == 0:
                break  # empty (an empty claim alone may mean the other contender won that batch)
            claimed += got
            time.sleep(0.01)  # applying them: the other contender claims meanwhile
    print(f"claimed {len(claimed)} from {began:.3f} to {time.time():.3f}", file=sys.stderr, flush=True)
    print(json.dumps(claimed), flush=True)


if __name__ == "__main__":
    main(int(sys.argv[1]))
