"""Figure ``automation`` (issue 14): workflows on top of the sync, measured on the real stack.

- latency: from the sandbox's booking call (its webhook is signed and POSTed to gunicorn at once) to the
  first step of a workflow done (a tag on the contact), at ``rate`` bookings/s with 5 published workflows;
- throughput: enrolments completed per second from ``events`` queued domain events with 2 workers, as a
  ratio to figure 3's apply rate of the same run;
- both again with ``waits`` pending Waits (their rows and their RQ scheduled jobs, due in a year): the
  slowdown each shows.
"""
import json
import threading
import time
from datetime import timedelta

from redis import Redis
from rq import Queue
from rq.job import Job

from portal.extensions import db
from portal.models import (
    CalendlyConnection,
    Contact,
    ContactTag,
    DomainEvent,
    Enrolment,
    EventKind,
    Origin,
    StepRun,
    Workflow,
    WorkflowStatus,
    WorkflowStep,
)
from portal.pipeline import workflows as engine
from portal.timeutil import to_iso, utcnow

from . import calendly, data, stats

GOAL = "p95 ≤ 1 s; ≥ 0.5 of figure 3's apply rate; ≤ 10% slower with 100,000 pending Waits"
POLL = 0.02
CHUNK = 500


def publish(subaccount, count, trigger=EventKind.APPOINTMENT_BOOKED, steps=(("add_tag", None),)):
    """``count`` published workflows, each starting with a tag of its own."""
    made = []
    for i in range(count):
        w = Workflow.create(subaccount=subaccount, name=f"Bench {trigger} {i}", trigger=trigger,
                            status=WorkflowStatus.PUBLISHED, published_at=utcnow() - timedelta(seconds=1))
        for position, (kind, config) in enumerate(steps):
            WorkflowStep.create(workflow=w, position=position, kind=kind,
                                config=json.dumps(config or {"tag": f"bench-{i}"}))
        made.append(w)
    return made


# ------------------------------------------------------------------ latency
def latency(sandbox, event_type_uri, label, rate, seconds, day_offset, settle=20.0, log=print):
    """Book at ``rate``/s; the clock of each booking stops at the first poll that sees a tag on its contact."""
    booked, seen, lock, stop = {}, {}, threading.Lock(), threading.Event()

    def poll():
        with db.connection_context():
            last = ContactTag.select(ContactTag.id).order_by(ContactTag.id.desc()).scalar() or 0
        while not stop.is_set():
            began = time.monotonic()
            with db.connection_context():
                rows = list(ContactTag.select(ContactTag.id, Contact.email_normalized).join(Contact)
                            .where(ContactTag.id > last).order_by(ContactTag.id).tuples())
            now = time.monotonic()
            for row_id, email in rows:
                last = max(last, row_id)
                with lock:
                    seen.setdefault(email, now)
            time.sleep(max(0.0, POLL - (time.monotonic() - began)))

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    total = max(1, int(rate * seconds))
    start_at = (utcnow() + timedelta(days=day_offset)).replace(hour=8, minute=0, second=0, microsecond=0)
    log(f"  {label}: {total} bookings at {rate:.0f}/s ...")
    t0 = time.monotonic()
    for n in range(total):
        delay = t0 + n / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        email = f"{label}{n}@automation.example"
        sandbox.book(event_type_uri, to_iso(start_at + timedelta(minutes=5 * n)), f"Lead {n}", email)
        with lock:
            booked[email] = time.monotonic()
    sent = time.monotonic() - t0
    deadline = time.monotonic() + settle
    while time.monotonic() < deadline:
        with lock:
            if all(e in seen for e in booked):
                break
        time.sleep(0.1)
    stop.set()
    poller.join()
    with lock:
        latencies = [max(0.0, seen[e] - t) for e, t in booked.items() if e in seen]
        missing = sum(1 for e in booked if e not in seen)
    summary = stats.latency_summary(latencies)
    return {"p50_ms": summary["p50_ms"], "p95_ms": summary["p95_ms"], "p99_ms": summary["p99_ms"],
            "max_ms": summary["max_ms"], "bookings": total, "not_tagged": missing,
            "rate_per_s": round(total / sent, 1)}


# ------------------------------------------------------------------ throughput
def _contacts(subaccount, label, count):
    """``count`` new contacts of ``subaccount``; their ids."""
    now = utcnow()
    for first in range(0, count, CHUNK):
        rows = [{"subaccount": subaccount.id, "name": f"Queued {n}", "email": f"{label}{n}@queued.example",
                 "email_normalized": f"{label}{n}@queued.example", "created_at": now}
                for n in range(first, min(count, first + CHUNK))]
        with db.atomic():
            data.bulk_insert(Contact, rows)
    return [c for (c,) in Contact.select(Contact.id).where(
        (Contact.subaccount == subaccount) & Contact.email_normalized.endswith("@queued.example")
        & Contact.email_normalized.startswith(label)).tuples()]


def throughput(stack, subaccount, label, events, log=print):
    """Queue ``events`` "contact created" events with no worker up, start 2 workers, time every enrolment done."""
    (workflow,) = publish(subaccount, 1, trigger=EventKind.CONTACT_CREATED)
    contact_ids = _contacts(subaccount, label, events)
    now = utcnow()
    for first in range(0, len(contact_ids), CHUNK):
        with db.atomic():
            data.bulk_insert(DomainEvent, [
                {"subaccount": subaccount.id, "kind": EventKind.CONTACT_CREATED, "contact": cid,
                 "origin": Origin.WEBHOOK, "cause": "bench", "calendar": "", "starts_workflows": True,
                 "created_at": now} for cid in contact_ids[first:first + CHUNK]])
    log(f"  {label}: {len(contact_ids):,} queued events, 2 workers ...")
    stack.start_workers(2)
    try:
        # From the kick, both workers listening: all of the matching and the steps is on the clock (the queue
        # seen empty is no start: the step jobs the match queues keep it busy until nearly the end).
        began = time.monotonic()
        engine.kick()
        deadline = began + 900
        done = 0
        while time.monotonic() < deadline:
            with db.connection_context():
                done = Enrolment.select().where((Enrolment.workflow == workflow.id)
                                                & (Enrolment.state == "done")).count()
            if done >= len(contact_ids):
                break
            time.sleep(0.05)
        seconds = time.monotonic() - began
        stack.note_peaks()
    finally:
        stack.stop_workers()
    Workflow.update(status=WorkflowStatus.PAUSED).where(Workflow.id == workflow.id).execute()
    return {"events": len(contact_ids), "completed": done, "seconds": round(seconds, 2),
            "enrolments_per_s": round(done / seconds, 1) if seconds else None}


# ------------------------------------------------------------------ pending waits
def pending_waits(stack, subaccount, count, log=print):
    """``count`` enrolments waiting a year: rows as the engine leaves them and one RQ scheduled job each."""
    (workflow,) = publish(subaccount, 1, trigger=EventKind.CONTACT_CREATED,
                          steps=(("wait", {"mode": "duration", "minutes": 525600}), ("add_tag", {"tag": "late"})))
    Workflow.update(status=WorkflowStatus.PAUSED).where(Workflow.id == workflow.id).execute()  # no new ones
    log(f"  {count:,} pending Waits ...")
    contact_ids = _contacts(subaccount, "waiting", count)
    now, until = utcnow(), utcnow() + timedelta(days=365)
    redis = Redis.from_url(stack.redis.url)
    queue = Queue(engine.QUEUE, connection=redis)
    for first in range(0, len(contact_ids), CHUNK):
        chunk = contact_ids[first:first + CHUNK]
        with db.atomic():
            data.bulk_insert(DomainEvent, [
                {"subaccount": subaccount.id, "kind": EventKind.CONTACT_CREATED, "contact": cid,
                 "origin": Origin.WEBHOOK, "cause": "bench", "calendar": "", "starts_workflows": True,
                 "created_at": now, "matched_at": now} for cid in chunk])
            event_ids = [e for (e,) in DomainEvent.select(DomainEvent.id).where(
                DomainEvent.contact.in_(chunk)).tuples()]
            data.bulk_insert(Enrolment, [
                {"workflow": workflow.id, "subaccount": subaccount.id, "event": eid, "contact": cid,
                 "active_key": f"{workflow.id}:{cid}", "state": "waiting", "position": 0, "started_at": now}
                for eid, cid in zip(event_ids, chunk)])
            enrolment_ids = [e for (e,) in Enrolment.select(Enrolment.id).where(
                (Enrolment.workflow == workflow.id) & Enrolment.contact.in_(chunk)).tuples()]
            data.bulk_insert(StepRun, [
                {"enrolment": eid, "position": 0, "kind": "wait", "state": "waiting", "started_at": now,
                 "run_at": until, "detail": "bench: waits a year"} for eid in enrolment_ids])
        pipe = redis.pipeline()
        for eid in enrolment_ids:
            job = Job.create("jobs.automation.run_step", args=(eid, 0), id=f"enrolment-{eid}-0-wait",
                             connection=redis, result_ttl=0, failure_ttl=86400, origin=queue.name)
            queue.schedule_job(job, until, pipeline=pipe)
        pipe.execute()
    return count


def slowdown(before, after):
    """How much slower ``after`` is than ``before``, in percent (negative: faster)."""
    if not before or not after:
        return None
    return round((after / before - 1) * 100, 1)


def backfilled(connection_id, timeout=60):
    """Wait (polling) until the connection's first backfill is done."""
    deadline = time.monotonic() + timeout
    while CalendlyConnection.get_by_id(connection_id).backfilled_at is None:
        if time.monotonic() > deadline:
            raise TimeoutError(f"the first backfill did not end within {timeout} s")
        time.sleep(0.05)


def run(stack, subaccount, owner, apply_rate, *, rate, seconds, events, waits, log=print):
    """The whole figure; ``apply_rate`` is figure 3's rate of this run (None when it was skipped)."""
    began = time.monotonic()

    def done(what):  # the bench log's step times, within this figure
        log(f"    {what} done at {time.monotonic() - began:.0f} s")

    sandbox = calendly.Sandbox(stack.sandbox_url)
    email = "automation@calendly.bench"
    sandbox.create_user(email)
    event_type = sandbox.create_event_type("Discovery", [email])
    conn = calendly.connect(stack, owner, subaccount, email, ["Discovery"])
    publish(subaccount, 5)
    stack.start_workers(2)
    try:
        backfilled(conn.id)  # the first Save's backfill (nothing to import) ends before the clock runs
        quiet = latency(sandbox, event_type["uri"], "lead", rate, seconds, day_offset=3, log=log)
    finally:
        stack.stop_workers()
    done("latency")
    queued = throughput(stack, subaccount, "queued", events, log=log)
    done("throughput")
    pending_waits(stack, subaccount, waits, log=log)
    done("pending Waits stored")
    stack.start_workers(2)
    try:
        time.sleep(2)
        loaded = latency(sandbox, event_type["uri"], "busy", rate, seconds, day_offset=40, log=log)
    finally:
        stack.stop_workers()
    done("latency with the Waits")
    queued_loaded = throughput(stack, subaccount, "loaded", events, log=log)
    done("throughput with the Waits")

    ratio = stats.ratio(queued["enrolments_per_s"], apply_rate) if apply_rate else None
    result = {
        "p50_ms": quiet["p50_ms"], "p95_ms": quiet["p95_ms"], "p99_ms": quiet["p99_ms"],
        "bookings": quiet["bookings"], "rate_per_s": quiet["rate_per_s"], "not_tagged": quiet["not_tagged"],
        "published_workflows": 5,
        "enrolments_per_s": queued["enrolments_per_s"], "queued_events": queued["events"],
        "completed": queued["completed"], "workers": 2,
        "apply_rate_per_s": apply_rate, "ratio_to_apply": ratio,
        "pending_waits": waits,
        "with_pending_waits": {"p95_ms": loaded["p95_ms"], "p99_ms": loaded["p99_ms"],
                               "enrolments_per_s": queued_loaded["enrolments_per_s"]},
        "slowdown_with_waits_pct": {"latency_p95": slowdown(quiet["p95_ms"], loaded["p95_ms"]),
                                    "throughput": slowdown(queued_loaded["enrolments_per_s"],
                                                           queued["enrolments_per_s"])},
        "goal": GOAL,
    }
    slow = result["slowdown_with_waits_pct"]
    result["met"] = bool(
        quiet["not_tagged"] == 0 and quiet["p95_ms"] is not None and quiet["p95_ms"] <= 1000
        and (ratio is None or ratio >= 0.5) and queued["completed"] == queued["events"]
        and all(v is not None and v <= 10 for v in slow.values()))
    return result
