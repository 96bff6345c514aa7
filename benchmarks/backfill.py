"""Figure 4: importing a Calendly account's history under Calendly's rate limit (SPEC W2).

The sandbox gets a host with ``events`` scheduled events created over the
last 180 days (written straight into its store, as history: no webhooks),
and enforces a per-user limit of ``500 × time_scale`` requests a minute (the
real limit is 500; raising it by the same factor as the clock is sped up
keeps the shape). The portal connects the account for real (OAuth, first
Save) and a worker runs ``jobs.sync.backfill_connection``. Every request and
every 429 is counted from the sandbox's request log, per limiter window.

The sandbox's limiter counts per fixed clock minute (``sandbox.faults.RateLimiter``),
so the floor is computed from those windows: the ``n`` calls that were
answered need ``⌈n ÷ limit⌉`` windows, and no run can finish before the last
of them opens: floor = (end of the run's first window − start) + 60 s for
each window after it but the last. A run that does not fill each window but
its last up to the limit was bound by the machine, not by the limiter; it is
reported as such and not counted as meeting the goal. The time scale comes
from a calibration step (a small backfill with no limit, to learn how many
calls a minute this machine makes): the limit is set to at most half of
that, so the limiter binds; the event count is capped so the run spans at
most ``MAX_WINDOWS`` windows (the bench's time budget).
"""
import math
import os
import random
import re
import time
from datetime import datetime, timedelta

from portal.extensions import db
from portal.models import Appointment, CalendlyConnection, Status

from . import calendly, data
from .stack import Stack

REAL_LIMIT_PER_MINUTE = 500  # API-FACTS §8, paid plans
WINDOW_SECONDS = 60  # the sandbox's fixed clock-minute windows
GOAL = "≤ 1.15 × the rate-limit floor, no 429 storm, bound by the limiter"
# werkzeug's request log line; it wraps 4xx/5xx request lines in ANSI colour codes.
REQUEST_LINE = re.compile(r'"(?:\x1b\[[0-9;]*m)*(GET|POST|DELETE|PATCH|PUT) (/[^ ]*) HTTP/1\.[01]'
                          r'(?:\x1b\[[0-9;]*m)*" (\d{3})')
STAMP = re.compile(r"\[(\d{2}/\w{3}/\d{4} \d{2}:\d{2}:\d{2})\]")
API_PREFIXES = ("/users", "/organizations", "/event_types", "/event_type_memberships", "/scheduled_events",
                "/webhook_subscriptions", "/organization_memberships")
MAX_SCALE = 8
MAX_WINDOWS = 3
# Starting in the window already open (instead of waiting for the next) is safe when the calibrated rate
# fills it this many times over in the time it has left, after the connect's few seconds.
START_MARGIN = 1.3
CONNECT_SECONDS = 5
# The limiter "bound" a window when the calls answered in it reached this share of the limit.
FULL_WINDOW = 0.95
CALIBRATION_EVENTS = 400


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


def api_lines(log_text):
    """``(second stamp, status)`` of each Calendly API request in werkzeug's request log."""
    for line in log_text.splitlines():
        match = REQUEST_LINE.search(line)
        if not match or not match.group(2).startswith(API_PREFIXES):
            continue
        stamp = STAMP.search(line)
        yield (stamp.group(1) if stamp else ""), match.group(3)


def count_requests(log_text):
    """``(api_calls, count_429, max_429_in_one_second)`` from werkzeug's request log lines."""
    calls = too_many = 0
    per_second = {}
    for stamp, status in api_lines(log_text):
        calls += 1
        if status == "429":
            too_many += 1
            per_second[stamp] = per_second.get(stamp, 0) + 1
    return calls, too_many, max(per_second.values(), default=0)


def windows(log_text, limit):
    """Calls, answered calls and 429s per limiter window (clock minute), in order."""
    out = {}
    for stamp, status in api_lines(log_text):
        minute = stamp[:-3] if stamp else ""  # "dd/Mon/yyyy HH:MM": the sandbox's window
        w = out.setdefault(minute, {"window": minute, "calls": 0, "answered": 0, "count_429": 0})
        w["calls"] += 1
        if status == "429":
            w["count_429"] += 1
        else:
            w["answered"] += 1
    rows = sorted(out.values(), key=lambda w: datetime.strptime(w["window"], "%d/%b/%Y %H:%M") if w["window"]
                  else datetime.min)
    for w in rows:
        w["share_of_limit"] = round(w["answered"] / limit, 3)
    return rows


def floor_seconds(answered, limit, first_window_left):
    """The least time ``answered`` calls take under ``limit`` per fixed window, starting
    ``first_window_left`` seconds before the first window ends; ``None`` when they fit in one window."""
    needed = math.ceil(answered / limit) if answered else 0
    if needed <= 1:
        return None
    return first_window_left + (needed - 2) * WINDOW_SECONDS


def limiter_bound(rows, limit):
    """True when every window but the last was filled up to the limit (``FULL_WINDOW``)."""
    return len(rows) >= 2 and all(w["answered"] >= FULL_WINDOW * limit for w in rows[:-1])


def cpu_seconds(pids):
    """User + system CPU seconds used so far by ``pids`` (and their threads)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
        except (OSError, IndexError, ValueError):
            continue
    return total


def stack_pids(stack):
    from .stack import children

    pids = [w.process.pid for w in stack.workers]
    if stack.sandbox is not None:
        pids.append(stack.sandbox.process.pid)
    for service in stack.webs.values():
        pids += children(service.process.pid)
    return pids


def _backfill(stack, sandbox, subaccount, user, email, events, timeout):
    """Seed ``events`` for a new Calendly user, connect it, wait for the backfill; returns the connection row."""
    sandbox.create_user(email)
    event_type = sandbox.create_event_type("History", [email])
    seed_sandbox(stack.sandbox_db, email, event_type["uri"], events)
    return event_type, lambda: _connect_and_wait(stack, user, subaccount, email, timeout)


def _connect_and_wait(stack, user, subaccount, email, timeout):
    began = time.time()
    with db.connection_context():
        conn = calendly.connect(stack, user, subaccount, email, ["History"])
    while time.time() < began + timeout:
        with db.connection_context():
            row = CalendlyConnection.get_by_id(conn.id)
        if row.backfilled_at is not None and row.status == Status.CONNECTED:
            return row, began, time.time()
        time.sleep(0.2)
    with db.connection_context():
        return CalendlyConnection.get_by_id(conn.id), began, None


def calibrate(stack, sandbox, subaccount, events=CALIBRATION_EVENTS, log=print):
    """Calls a minute this machine makes in a backfill with no rate limit (the calibration step)."""
    with db.connection_context():
        user = data.user("calibration@bench.example", subaccount)
    sandbox.faults(rate_limit_per_minute=1_000_000)
    offset = stack.log_offset(stack.sandbox)
    _, go = _backfill(stack, sandbox, subaccount, user, "calibration@calendly.bench", events, timeout=600)
    row, began, done = go()
    time.sleep(0.5)
    calls, _, _ = count_requests(stack.read_log(stack.sandbox, offset))
    sandbox.clear_faults()
    if done is None:
        raise RuntimeError("the calibration backfill did not finish")
    per_minute = calls / (done - began) * 60
    log(f"  calibration: {calls} calls in {done - began:.1f} s with no limit = {per_minute:.0f} calls/min")
    return per_minute


def choose_scale(capacity_per_minute):
    """The largest time scale (≤ ``MAX_SCALE``) whose limit is at most half what the machine can do."""
    return max(1, min(MAX_SCALE, int(capacity_per_minute * 0.5 // REAL_LIMIT_PER_MINUTE)))


def capped_events(events, limit):
    """At most what ``MAX_WINDOWS`` windows hold (one call per event plus a page per 100, and the setup)."""
    return max(100, min(events, int(MAX_WINDOWS * limit * FULL_WINDOW / 1.01) - 50))


def seconds_to_fill(limit, capacity_per_minute):
    """Seconds the machine needs to make a window's ``FULL_WINDOW`` share of ``limit`` calls, connect included."""
    return CONNECT_SECONDS + START_MARGIN * WINDOW_SECONDS * FULL_WINDOW * limit / capacity_per_minute


def wait_for_window(limit, capacity_per_minute, now=None):
    """Seconds to wait before the import starts so that every window but the last can fill up.

    The window already open will do when the calibrated rate fills it in the time it has left: the run
    is then a window shorter (the floor counts from the start, whatever is left of its first window).
    Otherwise (or with no calibration) the next window, as a fresh one.
    """
    left = WINDOW_SECONDS - (time.time() if now is None else now) % WINDOW_SECONDS
    if capacity_per_minute and left >= seconds_to_fill(limit, capacity_per_minute):
        return 0.0
    return left + 0.05


def run(stack: Stack, sandbox, subaccount, user, events=10_000, time_scale=None, timeout=None, align=True,
        log=print):
    """Figure 4; ``align=False`` (``--quick``) starts at once instead of in a window it can fill."""
    capacity = None
    if time_scale is None:
        capacity = calibrate(stack, sandbox, subaccount, log=log)
        time_scale = choose_scale(capacity)
    limit = REAL_LIMIT_PER_MINUTE * time_scale
    requested, events = events, capped_events(events, limit)
    email = "history@calendly.bench"
    log(f"  writing {events} Calendly events into the sandbox ...")
    event_type, go = _backfill(stack, sandbox, subaccount, user, email, events,
                               timeout=timeout or (math.ceil((events * 1.01 + 50) / limit) + 1) * 60 * 3 + 120)
    sandbox.faults(rate_limit_per_minute=limit)
    if align:  # start in a rate-limit window it can fill (the sandbox counts whole clock minutes)
        wait = wait_for_window(limit, capacity)
        log(f"  waiting {wait:.0f} s for the next limiter window ..." if wait
            else "  starting in the open limiter window (the calibrated rate fills it in time) ...")
        time.sleep(wait)
    offset = stack.log_offset(stack.sandbox)
    log(f"  backfill at {limit} requests/min ({time_scale}× the real {REAL_LIMIT_PER_MINUTE}/min) ...")
    pids = stack_pids(stack)
    cpu_before, wall_before = cpu_seconds(pids), time.monotonic()
    row, began, done_at = go()
    cpu_share = (cpu_seconds(pids) - cpu_before) / ((time.monotonic() - wall_before) * (os.cpu_count() or 1))
    first_window_left = WINDOW_SECONDS - began % WINDOW_SECONDS
    seconds = (done_at or time.time()) - began
    time.sleep(0.5)  # the last request lines reach the log
    text = stack.read_log(stack.sandbox, offset)
    calls, count_429, worst_second = count_requests(text)
    per_window = windows(text, limit)
    sandbox.clear_faults()
    with db.connection_context():
        imported = Appointment.select().where(Appointment.event_type_uri == event_type["uri"]).count()
    answered = calls - count_429
    floor = floor_seconds(answered, limit, first_window_left)
    bound = limiter_bound(per_window, limit)
    result = {
        "events": events,
        "events_requested": requested,
        "seconds": round(seconds, 1),
        "ratio_to_floor": round(seconds / floor, 2) if floor else None,
        "count_429": count_429,
        "api_calls": calls,
        "answered_calls": answered,
        "floor_seconds": round(floor, 1) if floor else None,
        "floor": "the least time the answered calls take in the sandbox's fixed one-minute windows: "
                 "⌈answered ÷ limit⌉ windows, from the run's start to the opening of the last",
        "windows": per_window,
        "limiter_bound": bound,
        "cpu_share": round(cpu_share, 2),
        "calibration_calls_per_minute": round(capacity) if capacity else None,
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
        result["note"] = f"not finished after {seconds:.0f} s ({row.backfill_done}/{row.backfill_total} events)"
    elif floor is None:
        result["note"] = "the calls fit in one limiter window: the limiter never bound, so there is no floor"
    elif not bound:
        result["note"] = (f"bound by the machine, not the limiter (windows before the last not filled to the "
                          f"limit; CPU share {cpu_share:.0%}): not a rate-limit figure")
    # A storm: the client hammering on through 429s instead of waiting for the reset.
    result["met"] = bool(done_at is not None and bound and floor and result["ratio_to_floor"] <= 1.15
                         and worst_second <= 2 and imported == events)
    return result
