"""Figure 1: signed webhook deliveries acknowledged per second, against an empty route.

The load process keeps a fixed number of keep-alive connections busy for
``seconds``: first ``POST /_bench/empty`` with the same bodies (the
reference), then the real intake. Each route runs with the number of
requests in flight that serves it best, found by a short probe at 2 per
gunicorn worker and at as many as gunicorn has threads. Workers are stopped:
the deliveries wait in the inbox, which is what intake promises (stored
before the 2xx); each request's only Redis call is the inbox's wake signal
(``SET NX``), and a burst leaves one drain job queued. Every acknowledged
delivery is then looked up in the inbox ("lost" counts the ones missing).
"""
import itertools

from portal.devstack import WEB_THREADS, WEB_WORKERS
from portal.extensions import db
from portal.models import DeliveryState, WebhookDelivery
from portal.queues import get_queue
from portal.pipeline import inbox

from . import data, loadgen, stats

CONCURRENCY_CHOICES = (2 * WEB_WORKERS, WEB_WORKERS * WEB_THREADS)
PROBE_SECONDS = 5
GOAL = "≥ 500/s, p99 ≤ 20 ms, ≥ 50% of the empty route, 0 lost"


def run(stack, conn, seconds=30.0, reference_seconds=10.0, probe_seconds=PROBE_SECONDS, log=print):
    host = f"127.0.0.1:{stack.portal_port}"
    key = conn.signing_key
    path = f"/webhooks/calendly/{conn.webhook_token}"
    numbers = itertools.count()

    def request_to(target):
        def make(n):
            i = next(numbers)
            body, signature = data.signed_body(conn, i, key)
            headers = {"Content-Type": "application/json", "Calendly-Webhook-Signature": signature,
                       "User-Agent": "Calendly-Webhooks-Bench"}
            return i, loadgen.http_request("POST", target, host, body, headers)
        return make

    run_load = dict(host="127.0.0.1", port=stack.portal_port, max_requests=10**7)

    def best_concurrency(target):
        rates = {c: loadgen.run(request_to(target), seconds=probe_seconds, concurrency=c, **run_load).rate
                 for c in CONCURRENCY_CHOICES}
        return max(rates, key=rates.get)

    loadgen.run(request_to("/_bench/empty"), seconds=2, concurrency=CONCURRENCY_CHOICES[-1], **run_load)  # warm-up
    log("  probing how many requests in flight serve each route best ...")
    empty_c, real_c = best_concurrency("/_bench/empty"), best_concurrency(path)
    log(f"  empty route for {reference_seconds:.0f} s with {empty_c} in flight ...")
    empty = loadgen.run(request_to("/_bench/empty"), seconds=reference_seconds, concurrency=empty_c, **run_load)
    log(f"  webhook intake for {seconds:.0f} s with {real_c} in flight ...")
    real = loadgen.run(request_to(path), seconds=seconds, concurrency=real_c, **run_load)

    with db.connection_context():
        stored = {data.invitee_key(uri) for (uri,) in WebhookDelivery.select(WebhookDelivery.invitee_uri)
                  .where((WebhookDelivery.connection == conn.id)
                         & WebhookDelivery.state.in_((DeliveryState.RECEIVED, DeliveryState.QUEUED))).tuples()}
        jobs = get_queue(inbox.QUEUE).get_jobs()
        queued = len(jobs)
        drains = sum(1 for j in jobs if j.func_name == inbox.DRAIN_JOB)
    lost = len(set(real.ok_keys) - stored)
    latency = stats.latency_summary(real.latencies)
    result = {
        "rate_per_s": round(real.rate, 1),
        "p50_ms": latency["p50_ms"], "p95_ms": latency["p95_ms"], "p99_ms": latency["p99_ms"],
        "ratio_to_empty_route": stats.ratio(real.rate, empty.rate),
        "lost": lost,
        "max_ms": latency["max_ms"],
        "acknowledged": real.ok,
        "stored": len(stored),
        "enqueued": queued,
        "drain_jobs_queued": drains,
        "refused_or_failed": sum(c for s, c in real.statuses.items() if not 200 <= s < 300) + real.errors,
        "seconds": round(real.seconds, 1),
        "concurrency": real_c,
        "empty_route_concurrency": empty_c,
        "empty_route_rate_per_s": round(empty.rate, 1),
        "empty_route_p99_ms": stats.latency_summary(empty.latencies)["p99_ms"],
        "goal": GOAL,
    }
    result["met"] = bool(result["rate_per_s"] >= 500 and (result["p99_ms"] or 1e9) <= 20
                         and (result["ratio_to_empty_route"] or 0) >= 0.5 and lost == 0
                         and result["refused_or_failed"] == 0)
    return result


def discard(conn):
    """Empty the inbox and the queue the intake filled (the later figures start clean)."""
    get_queue(inbox.QUEUE).empty()
    with db.connection_context():
        WebhookDelivery.delete().where(WebhookDelivery.connection == conn.id).execute()
