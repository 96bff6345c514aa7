"""``latest.json`` (a contract read by tools outside the project: keep its keys) and ``latest.md``.

Every figure keeps the keys the issue fixed (``rate_per_s``, ``p95_ms``, …)
and may add its own (the reference, the goal, ``met``). A figure that could
not be measured keeps its keys with ``null`` and says why in ``skipped``.
"""
import json
import os
import platform
import socket
import sqlite3
import subprocess
from datetime import UTC, datetime

RESULTS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")

CONTRACT = {
    "webhook_intake": ("rate_per_s", "p50_ms", "p95_ms", "p99_ms", "ratio_to_empty_route", "lost"),
    "booking_to_visible": ("p50_ms", "p95_ms", "p99_ms"),
    "apply_throughput": ("rate_per_s", "ratio_to_noop", "workers"),
    "backfill": ("events", "seconds", "ratio_to_floor", "count_429"),
    "memory": ("worker_mb", "web_mb"),
    "reconciliation": ("upcoming_events", "calls_per_run"),
}


def skeleton():
    """Every contract key present (null until measured)."""
    out = {"machine": machine()}
    for section, keys in CONTRACT.items():
        out[section] = dict.fromkeys(keys)
    out["pages"] = {}
    out["growth"] = {}
    return out


def skipped(section, reason):
    return {**dict.fromkeys(CONTRACT.get(section, ())), "skipped": reason}


def machine():
    """What the figures were taken on."""
    info = {
        "hostname": socket.gethostname(),
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "memory_gb": _memory_gb(),
        "os": platform.platform(terse=True),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "redis": _version(["redis-server", "--version"], "v="),
        "postgresql": _pg_version(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "taken_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    return info


def _cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_gb():
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return None


def _pg_version():
    import re

    for argv in (["postgres", "--version"], ["pg_ctl", "--version"]):
        try:
            out = subprocess.run(argv, capture_output=True, text=True, timeout=5).stdout
        except (OSError, subprocess.TimeoutExpired):
            continue
        found = re.search(r"\(PostgreSQL\) (\d+(?:\.\d+)?)", out)
        if found:
            return found.group(1)
    return None


def _version(argv, marker=None):
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return None
    if marker and marker in out:
        return out.split(marker, 1)[1].split()[0]
    return out.split()[-1] if out else None


# ------------------------------------------------------------------ writing
def write(results, directory=RESULTS_DIR):
    """Write ``latest.json`` and ``latest.md``; returns their paths."""
    os.makedirs(directory, exist_ok=True)
    json_path = os.path.join(directory, "latest.json")
    md_path = os.path.join(directory, "latest.md")
    with open(json_path, "w") as f:
        json.dump(results, f, indent=2, sort_keys=False)
        f.write("\n")
    with open(md_path, "w") as f:
        f.write(render(results))
    return json_path, md_path


def _fmt(value, unit="", digits=None):
    if value is None:
        return "–"
    if isinstance(value, float) and digits is not None:
        value = round(value, digits)
    if isinstance(value, float) and value >= 100:
        value = round(value)
    return f"{value:,}{unit}" if isinstance(value, int) else f"{value}{unit}"


def _met(section):
    if not isinstance(section, dict) or section.get("skipped"):
        return "skipped"
    met = section.get("met")
    return "–" if met is None else ("yes" if met else "**no**")


def figure_rows(r):
    """``(figure, result, reference, goal, met)`` for each figure, as text."""
    rows = []
    w = r.get("webhook_intake") or {}
    rows.append((
        "1. Webhook intake",
        f"{_fmt(w.get('rate_per_s'), '/s')}; p50/p95/p99 {_fmt(w.get('p50_ms'))}/{_fmt(w.get('p95_ms'))}/"
        f"{_fmt(w.get('p99_ms'))} ms; lost {_fmt(w.get('lost'))}",
        f"empty route {_fmt(w.get('empty_route_rate_per_s'), '/s')} → ratio {_fmt(w.get('ratio_to_empty_route'))}",
        w.get("goal", ""), _met(w)))
    b = r.get("booking_to_visible") or {}
    one = (b.get("by_pages") or {}).get("1") if b.get("pages") != 1 else None
    rows.append((
        "2. Booking to visible",
        f"p50/p95/p99 {_fmt(b.get('p50_ms'))}/{_fmt(b.get('p95_ms'))}/{_fmt(b.get('p99_ms'))} ms",
        f"{_fmt(b.get('bookings'))} bookings at {_fmt(b.get('rate_per_s'), '/s')}; not seen {_fmt(b.get('not_seen'))}"
        + (f"; {b['pages']} open pages, web CPU {_fmt(b.get('web_cpu_share_idle'))} idle / "
           f"{_fmt(b.get('web_cpu_share_booking'))} booking (cores)" if b.get("pages") else "")
        + (f"; written p50/p95 {_fmt(b.get('applied_p50_ms'))}/{_fmt(b.get('applied_p95_ms'))} ms"
           if b.get("applied_p95_ms") is not None else "")
        + (f"; 1 open page p95/p99 {_fmt(one.get('p95_ms'))}/{_fmt(one.get('p99_ms'))} ms" if one else "")
        + (f"; Chromium{' (' + b['browser_priority'] + ')' if b.get('browser_priority') else ''} "
           f"{_fmt(b.get('browser_cpu_share_idle'))} idle / {_fmt(b.get('browser_cpu_share_booking'))} "
           f"booking (cores); load {_fmt(b.get('load_average_1m'))}" if b.get("browser_cpu_share_booking") is not None
           else ""),
        b.get("goal", ""), _met(b)))
    a = r.get("apply_throughput") or {}
    by = a.get("by_workers") or {}
    scale = ", ".join(f"{k} worker{'s' if k != '1' else ''} {_fmt(v.get('rate_per_s'), '/s')}"
                      for k, v in sorted(by.items()))
    pg = (a.get("postgresql") or {}).get("by_workers") or {}
    if pg:
        scale += "; PostgreSQL " + ", ".join(f"{k} worker{'s' if k != '1' else ''} {_fmt(v.get('rate_per_s'), '/s')}"
                                            for k, v in sorted(pg.items()))
    rows.append((
        "3. Apply throughput",
        f"{_fmt(a.get('rate_per_s'), '/s')} with {_fmt(a.get('workers'))} workers on SQLite ({scale})",
        f"no-op job {_fmt(a.get('noop_rate_per_s'), '/s')} → ratio {_fmt(a.get('ratio_to_noop'))}",
        a.get("goal", ""), _met(a)))
    f = r.get("backfill") or {}
    rows.append((
        "4. Backfill",
        f"{_fmt(f.get('events'))} events in {_fmt(f.get('seconds'), ' s')}; {_fmt(f.get('count_429'))} × 429",
        f"floor {_fmt(f.get('floor_seconds'), ' s')} ({_fmt(f.get('answered_calls', f.get('api_calls')))} answered "
        f"calls in {len(f.get('windows') or []) or '?'} one-minute windows of "
        f"{_fmt(f.get('rate_limit_per_minute'))}, {_fmt(f.get('time_scale'))}× time; "
        f"{'limiter-bound' if f.get('limiter_bound') else 'NOT limiter-bound'}, CPU share "
        f"{_fmt(f.get('cpu_share'))}) → ratio {_fmt(f.get('ratio_to_floor'))}",
        f.get("goal", ""), _met(f)))
    pages = r.get("pages") or {}
    if pages:
        worst = max((p for p in pages.values() if p.get("p95_ms") is not None), key=lambda p: p["p95_ms"],
                    default=None)
        dbs = sorted({p.get("database") for p in pages.values()})
        rows.append((
            "5. Pages at scale (server time)",
            f"worst server p95 {_fmt(worst and worst['p95_ms'], ' ms')} ({worst and worst['label']}, "
            f"{worst and worst['database']}; round trip p95 {_fmt(worst and worst.get('round_trip_p95_ms'), ' ms')})",
            f"{len(pages)} page timings on {', '.join(dbs)}, from the Server-Timing header", "each server p95 ≤ 100 ms",
            "yes" if all(p.get("met") for p in pages.values()) else "**no**"))
    m = r.get("memory") or {}
    rows.append((
        "6. Memory (peak RSS)", f"worker {_fmt(m.get('worker_mb'), ' MB')}, web {_fmt(m.get('web_mb'), ' MB')}",
        "VmHWM of each process", m.get("goal", ""), _met(m)))
    g = r.get("growth") or {}
    if g.get("points"):
        rows.append((
            "7. Growth", g.get("summary", ""), f"{g.get('database', '')}: "
            + ", ".join(f"{p['appointments']:,}" for p in g["points"]), g.get("goal", ""), _met(g)))
    q = r.get("reconciliation") or {}
    rows.append((
        "8. Reconciliation", f"{_fmt(q.get('calls_per_run'))} calls per quiet run "
        f"({_fmt(q.get('invitee_calls_per_run'))} invitee reads) for {_fmt(q.get('upcoming_events'))} upcoming events",
        f"first run {_fmt(q.get('first_run_calls'))} calls ({_fmt(q.get('first_run_invitee_calls'))} invitee reads)",
        q.get("goal", ""), _met(q)))
    au = r.get("automation") or {}
    if au:
        waits = au.get("with_pending_waits") or {}
        slow = au.get("slowdown_with_waits_pct") or {}
        rows.append((
            "Automation: booking to the first workflow step done",
            f"p50/p95/p99 {_fmt(au.get('p50_ms'))}/{_fmt(au.get('p95_ms'))}/{_fmt(au.get('p99_ms'))} ms from the "
            f"booking call to a tag on the contact ({_fmt(au.get('bookings'))} bookings at "
            f"{_fmt(au.get('rate_per_s'), '/s')}, {_fmt(au.get('published_workflows'))} workflows; not tagged "
            f"{_fmt(au.get('not_tagged'))}); {_fmt(au.get('enrolments_per_s'), '/s')} enrolments completed with "
            f"{_fmt(au.get('workers'))} workers",
            f"figure 3's apply {_fmt(au.get('apply_rate_per_s'), '/s')} → ratio {_fmt(au.get('ratio_to_apply'))}; "
            f"with {_fmt(au.get('pending_waits'))} pending Waits p95 {_fmt(waits.get('p95_ms'))} ms "
            f"({_fmt(slow.get('latency_p95'), '%')} slower), {_fmt(waits.get('enrolments_per_s'), '/s')} "
            f"({_fmt(slow.get('throughput'), '%')} slower)",
            au.get("goal", ""), _met(au)))
    return rows


def _step_times(run):
    """`` (CPU … s; intake 62 s, …)``: where the bench's time went, for a reader checking its budget."""
    steps = {n: s for n, s in (run.get("steps") or {}).items() if not s.get("within")}
    if not steps:
        return ""
    return (f" (CPU {_fmt(run.get('cpu_seconds'), ' s')}; by step, wall/CPU: "
            + ", ".join(f"{n} {s['seconds']:.0f}/{s['cpu_seconds']:.0f} s" for n, s in steps.items()) + ")")


def render(r, level=1, title=True):
    """The readable table (``latest.md``); ``level`` and ``title`` fit it under a heading of the README."""
    m = r.get("machine") or {}
    section = "#" * (level + 1)
    lines = [f"{'#' * level} Calbridge benchmark results", ""] if title else []
    lines += [
        f"Taken {m.get('taken_at', '?')} on `{m.get('hostname', '?')}`: {m.get('cpu', '?')}, "
        f"{m.get('cores', '?')} cores, {m.get('memory_gb', '?')} GB RAM, {m.get('os', '?')}; Python "
        f"{m.get('python', '?')}, SQLite {m.get('sqlite', '?')}, Redis {m.get('redis', '?')}, PostgreSQL "
        f"{m.get('postgresql', '?')}. Load average at start: {m.get('load_average_at_start')}. "
        f"Total bench time: {_fmt((r.get('run') or {}).get('seconds'), ' s')}{_step_times(r.get('run') or {})}.",
        "",
        "| Figure | Result | Reference (same run) | Goal | Met |",
        "|---|---|---|---|---|",
    ]
    lines += ["| " + " | ".join(str(c).replace("|", "/") for c in row) + " |" for row in figure_rows(r)]
    pages = r.get("pages") or {}
    if pages:
        lines += ["", f"{section} Pages: server time (the portal's Server-Timing header) and the client's round trip "
                      "over loopback", "",
                  "| Page | Database | server p95 ms | server p50 ms | round trip p95 ms | round trip p50 ms |",
                  "|---|---|---|---|---|---|"]
        for p in pages.values():
            lines.append(f"| {p.get('label')} | {p.get('database')} | {_fmt(p.get('p95_ms'))} | "
                         f"{_fmt(p.get('p50_ms'))} | {_fmt(p.get('round_trip_p95_ms'))} | "
                         f"{_fmt(p.get('round_trip_p50_ms'))} |")
    g = r.get("growth") or {}
    if g.get("points"):
        names = list(g["points"][0].get("pages_p95_ms", {}))
        lines += ["", f"{section} Growth ({g.get('database')}): apply rate and page p95 by subaccount size", "",
                  "| Appointments | Contacts | Apply /s (2 workers) | " + " | ".join(names) + " |",
                  "|---" * (3 + len(names)) + "|"]
        for p in g["points"]:
            cells = [f"{p['appointments']:,}", f"{p.get('contacts', 0):,}", _fmt(p.get("apply_rate_per_s"))]
            cells += [_fmt(p.get("pages_p95_ms", {}).get(n)) for n in names]
            lines.append("| " + " | ".join(cells) + " |")
        if g.get("exponents"):
            lines += ["", "Growth exponent from the smallest to the largest size (0 = flat, 1 = linear): "
                      + ", ".join(f"{k} {v}" for k, v in g["exponents"].items()) + "."]
    notes = (r.get("run") or {}).get("notes") or []
    if notes:
        lines += ["", f"{section} Notes", ""] + [f"- {n}" for n in notes]
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------ the README's copy
README = os.path.normpath(os.path.join(os.path.dirname(RESULTS_DIR), os.pardir, "README.md"))
BEGIN = "<!-- latest-figures: written by `python -m benchmarks` from latest.json; edit the generator, not this -->"
END = "<!-- /latest-figures -->"


def update_readme(results, path=README):
    """Replace the README's block between ``BEGIN`` and ``END`` with this run's table; False if it has none."""
    with open(path) as f:
        text = f.read()
    if BEGIN not in text or END not in text:
        return False
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    with open(path, "w") as f:
        f.write(head + BEGIN + "\n\n" + render(results, level=4, title=False) + "\n" + END + tail)
    return True
