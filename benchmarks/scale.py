"""Figures 5 and 7: a subaccount at 10k, 100k and 1M appointments, and at 100k on PostgreSQL.

The subaccount lives in a database of its own (SQLite, then a throw-away
PostgreSQL cluster), served by its own gunicorn, so the two databases hold
the same rows and nothing the other figures wrote. It grows in place: at
each size its pages are timed and a batch of webhook deliveries is applied
into it by two workers, so the cost of a page and of an apply can be
compared across sizes.
"""
import os
import time
from contextlib import contextmanager

from portal import create_app
from portal.database import migrate_url
from portal.extensions import db

from . import apply, data, pages, stats
from .stack import free_port

SUPPORT_EMAIL = "support@scale.bench"
USER_EMAIL = "owner@scale.bench"


@contextmanager
def serving(stack, database_url, name):
    """A migrated database with its own gunicorn; yields the base URL. The bench process reads it too."""
    previous = db.obj
    migrate_url(database_url)
    app = create_app(stack.app_config(database_url))
    port = free_port()
    try:
        with app.app_context():
            stack.start_web(name, database_url=database_url, port=port)
            yield f"http://127.0.0.1:{port}"
    finally:
        stack.stop_web(name)
        # create_app bound the shared database proxy to this database: give it back.
        if not db.is_closed():
            db.close()
        db.initialize(previous)


def tenant():
    """The scale subaccount, its owner, a support user and a connection (rows only)."""
    with db.connection_context():
        sub, owner = data.tenant("Scale Dental", USER_EMAIL)
        data.user(SUPPORT_EMAIL, support=True)
        conn = data.connection(sub, owner)
    return sub, owner, conn


def grow(sub, conn, target, have, *, with_history, log=print):
    """Fill the subaccount from ``have`` to ``target`` appointments (contacts: half as many)."""
    began = time.monotonic()
    with db.connection_context():
        data.fill(sub, conn, target - have, target // 2, first=have, with_history=with_history)
        data.analyze()
    log(f"  filled to {target:,} appointments in {time.monotonic() - began:.0f} s")
    return target


def growth(stack, sizes, *, apply_count, samples, history_up_to, on_point=None, log=print):
    """Pages and apply rate at each size on SQLite; ``on_point(size, timed)`` lets the caller keep figure 5."""
    url = "sqlite:///" + os.path.join(stack.dir, "scale.db")
    points = []
    with serving(stack, url, "web-scale") as base_url:
        sub, owner, conn = tenant()
        have, first = 0, 0
        for size in sizes:
            have = grow(sub, conn, size, have, with_history=size <= history_up_to, log=log)
            names = tuple(pages.LABELS) if size <= history_up_to else pages.KEY_PAGES
            log(f"  pages at {size:,} ...")
            timed = pages.measure(base_url, USER_EMAIL, SUPPORT_EMAIL, sub, size, "sqlite", names=names,
                                  samples=samples)
            log(f"  applying {apply_count:,} deliveries at {size:,} ...")
            applied = apply.measure(stack, conn, apply_count, 2, first=first, database_url=url)
            first += apply_count
            points.append({"appointments": size, "contacts": size // 2, "apply_rate_per_s": applied["rate_per_s"],
                           "pages_p95_ms": {n: t["p95_ms"] for n, t in timed.items()}})
            if on_point:
                on_point(size, timed)
    return summarize(points)


def summarize(points):
    sizes = [p["appointments"] for p in points]
    exponents = {"apply (time per booking)": stats.growth_exponent(
        sizes, [1 / p["apply_rate_per_s"] for p in points])}
    for name in pages.KEY_PAGES:
        exponents[name] = stats.growth_exponent(sizes, [p["pages_p95_ms"].get(name) for p in points])
    worst = max((v for v in exponents.values() if v is not None), default=None)
    return {
        "database": "sqlite",
        "points": points,
        "exponents": exponents,
        "goal": "cost grows no faster than linearly (exponent ≤ 1; keyset pages ≈ 0)",
        "summary": f"largest growth exponent {worst} over a {sizes[-1] // sizes[0]}× size range"
        if worst is not None and len(sizes) > 1 else "",
        "met": worst is not None and worst <= 1.0,
    }


def postgres(stack, pg, appointments, *, samples, apply_count, log=print):
    """Figure 5 on PostgreSQL (the same subaccount, its own gunicorn), then figure 3's 1 vs 2 workers on it.

    Returns ``(pages, {"1": rate, "2": rate})``.
    """
    with serving(stack, pg.url, "web-postgresql") as base_url:
        sub, owner, conn = tenant()
        grow(sub, conn, appointments, 0, with_history=True, log=log)
        log("  pages on PostgreSQL ...")
        timed = pages.measure(base_url, USER_EMAIL, SUPPORT_EMAIL, sub, appointments, "postgresql",
                              samples=samples)
        rates = {}
        for n, workers in enumerate((2, 1)):
            log(f"  applying {apply_count:,} deliveries on PostgreSQL with {workers} worker{'s' * (workers > 1)} ...")
            rates[str(workers)] = apply.measure(stack, conn, apply_count, workers, first=n * apply_count,
                                                database_url=pg.url)["rate_per_s"]
        return timed, rates
