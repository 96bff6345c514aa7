"""Figure 4: importing a Calendly account's history under Calendly's rate limit (SPEC W2).

The sandbox gets a host with ``events`` scheduled events created over the
last 180 days (written straight into its store, as history: no webhooks),
and enforces a per-user limit of ``500 × time_scale`` requests a minute (the
real limit is 500; raising it by the same factor as the clock is sped up
keeps the shape). The portal connects the account for real (OAuth, first
Save) and a worker runs ``jobs.sync.backfill_connection``. The floor is
what the limit allows: API calls made ÷ limit per minute. Every request and
every 429 is counted from the sandbox's request log.
"""
import random
import re
import time
from datetime import timedelta

from portal.extensions import db
from portal.models import Appointment, CalendlyConnection, Status

from . import calendly
from .stack import Stack

REAL_LIMIT_PER_MINUTE = 500  # API-FACTS §8, paid plans
GOAL = "≤ 1.15 × the rate-limit floor, no 429 storm"
# werkzeug's request log line; it wraps 4xx/5xx request lines in ANSI colour codes.
REQUEST_LINE = re.compile(r'"(?:\x1b\[[0-9;]*m)*(GET|POST|DELETE|PATCH|PUT) (/[^ ]*) HTTP/1\.[01]'
                          r'(?:\x1b\[[0-9;]*m)*" (\d{3})')
API_PREFIXES = ("/users", "/organizations", "/event_types", "/event_type_memberships", "/scheduled_events",
                "/webhook_subscriptions", "/organization_memberships")


def seed_sandbox(sandbox_db, host_email, event_type_uri, count, days=180, seed=7, upcoming=False):
    """``count`` events of ``event_type_uri`` created over the last ``days`` days, some still upcoming
    (all of them with ``upcoming``)."""
    from sandbox import scheduling, store

    rng = random.Random(seed)
    store.init_db(sandbox_db)
    now = store.utcnow()
    with store.db.connection_context(), store.db.atomic():
        event_type = store.EventType.get(store.EventType.uuid == event_type_uri.rstrip("/").rsplit("/", 1)[1])
        for n in range(count):
            created = now - timedelta(seconds=rng.uniform(60, (days - 1) * 86400))
            start = (created + timedelta(days=rng.uniform(1, 30))).replace(second=0, microsecond=0)
            if upcoming:
                start = (now + timedelta(days=rng.uniform(0.1, 60))).replace(second=0, microsecond=0)
            scheduling.book(event_type, start, f"History {n}", f"history{n}@backfill.example", created_at=created,
                            notify=False)
    store.db.close()


def count_requests(log_text):
    """``(api_calls, count_429, max_429_in_one_second)`` from werkzeug's request log lines."""
    calls = too_many = 0
    per_second = {}
    for line in log_text.splitlines():
        match = REQUEST_LINE.search(line)
        if not match or not match.group(2).startswith(API_PREFIXES):
            continue
        calls += 1
        if match.group(3) == "429":
            too_many += 1
            stamp = line.split("[", 1)[1].split("]", 1)[0] if "[" in line else ""
            per_second[stamp] = per_second.get(stamp, 0) + 1
    return calls, too_many, max(per_second.values(), default=0)


def run(stack: Stack, sandbox, subaccount, user, events=10_000, time_scale=8, timeout=None, log=print):
    limit = REAL_LIMIT_PER_MINUTE * time_scale
    email = "history@calendly.bench"
    sandbox.create_user(email)
    event_type = sandbox.create_event_type("History", [email])
    log(f"  writing {events} Calendly events into the sandbox ...")
    seed_sandbox(stack.sandbox_db, email, event_type["uri"], events)
    sandbox.faults(rate_limit_per_minute=limit)
    # Start on a fresh rate-limit window (the sandbox counts whole clock minutes) so the floor is fair.
    time.sleep(60 - time.time() % 60 + 0.05)
    offset = stack.log_offset(stack.sandbox)
    log(f"  backfill at {limit} requests/min ({time_scale}× the real {REAL_LIMIT_PER_MINUTE}/min) ...")
    began = time.time()
    with db.connection_context():
        conn = calendly.connect(stack, user, subaccount, email, ["History"])
    expected_floor = (events + events / 100) / limit * 60
    timeout = timeout or expected_floor * 3 + 120
    done_at = None
    while time.time() < began + timeout:
        with db.connection_context():
            row = CalendlyConnection.get_by_id(conn.id)
        if row.backfilled_at is not None and row.status == Status.CONNECTED:
            done_at = time.time()
            break
        time.sleep(0.2)
    seconds = (done_at or time.time()) - began
    time.sleep(0.5)  # the last request lines reach the log
    calls, count_429, worst_second = count_requests(stack.read_log(stack.sandbox, offset))
    sandbox.clear_faults()
    with db.connection_context():
        imported = Appointment.select().where(Appointment.event_type_uri == event_type["uri"]).count()
        row = CalendlyConnection.get_by_id(conn.id)
    floor = calls / limit * 60
    result = {
        "events": events,
        "seconds": round(seconds, 1),
        "ratio_to_floor": round(seconds / floor, 2) if floor else None,
        "count_429": count_429,
        "api_calls": calls,
        "floor_seconds": round(floor, 1),
        "rate_limit_per_minute": limit,
        "real_rate_limit_per_minute": REAL_LIMIT_PER_MINUTE,
        "time_scale": time_scale,
        "real_time_estimate_minutes": round(seconds * time_scale / 60, 1),
        "imported": imported,
        "finished": done_at is not None,
        "status": row.status,
        "max_429_per_second": worst_second,
        "goal": GOAL,
    }
    if done_at is None:
        result["note"] = f"not finished after {timeout:.0f} s ({row.backfill_done}/{row.backfill_total} events)"
    # A storm: the client hammering on through 429s instead of waiting for the reset.
    result["met"] = bool(done_at is not None and result["ratio_to_floor"] <= 1.15 and worst_second <= 2
                         and imported == events)
    return result
