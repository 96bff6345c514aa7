"""Figure 2: from the sandbox's booking call to the appointment readable in the portal (SPEC E5).

Bookings are made through the sandbox's admin API at a steady rate; its
webhook sender signs and POSTs each one to the portal's gunicorn, a worker
applies it. A poller reads new appointment rows every ``POLL`` seconds and
stops each clock at the first poll that sees its booking.
"""
import threading
import time
from datetime import timedelta

from portal.extensions import db
from portal.models import Appointment
from portal.timeutil import to_iso, utcnow

from . import stats

GOAL = "p95 ≤ 1 s, p99 ≤ 2 s"
POLL = 0.02


def run(sandbox, event_type_uri, rate=20.0, seconds=60.0, settle=15.0, log=print):
    booked = {}  # invitee URI -> monotonic time the booking call returned
    seen = {}
    lock = threading.Lock()
    stop = threading.Event()

    def poll():
        with db.connection_context():
            last_id = Appointment.select(Appointment.id).order_by(Appointment.id.desc()).scalar() or 0
        while not stop.is_set():
            began = time.monotonic()
            with db.connection_context():
                rows = list(Appointment.select(Appointment.id, Appointment.invitee_uri)
                            .where(Appointment.id > last_id).order_by(Appointment.id).tuples())
            now = time.monotonic()
            for row_id, uri in rows:
                last_id = max(last_id, row_id)
                with lock:
                    seen.setdefault(uri, now)
            time.sleep(max(0.0, POLL - (time.monotonic() - began)))

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    total = int(rate * seconds)
    start_at = (utcnow() + timedelta(days=3)).replace(hour=9, minute=0, second=0, microsecond=0)
    log(f"  {total} bookings at {rate:.0f}/s ...")
    t0 = time.monotonic()
    for n in range(total):
        target = t0 + n / rate
        delay = target - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        made = sandbox.book(event_type_uri, to_iso(start_at + timedelta(minutes=5 * n)),
                            f"Visitor {n}", f"visitor{n}@visible.example")
        with lock:
            booked[made["invitee"]] = time.monotonic()
    sent_seconds = time.monotonic() - t0
    deadline = time.monotonic() + settle
    while time.monotonic() < deadline:
        with lock:
            if all(uri in seen for uri in booked):
                break
        time.sleep(0.1)
    stop.set()
    poller.join()
    with lock:
        latencies = [max(0.0, seen[uri] - t) for uri, t in booked.items() if uri in seen]
        missing = sum(1 for uri in booked if uri not in seen)
    summary = stats.latency_summary(latencies)
    result = {
        "p50_ms": summary["p50_ms"], "p95_ms": summary["p95_ms"], "p99_ms": summary["p99_ms"],
        "max_ms": summary["max_ms"], "bookings": total, "not_seen": missing,
        "rate_per_s": round(total / sent_seconds, 1), "poll_ms": POLL * 1000, "goal": GOAL,
    }
    result["met"] = bool(missing == 0 and summary["p95_ms"] is not None and summary["p95_ms"] <= 1000
                         and summary["p99_ms"] <= 2000)
    return result
