"""Figures 5 and 7: a subaccount at 10k, 100k and 1M appointments (SQLite), and at 100k on PostgreSQL.

One subaccount grows in place: filled to each size, its pages are timed
and a batch of webhook deliveries is applied into it by two workers, so
the cost of a page and of an apply can be compared across sizes.
"""
import time

from portal import create_app
from portal.database import open_database
from portal.extensions import db

from . import apply, data, pages, stats
from .stack import free_port

SUPPORT_EMAIL = "support@scale.bench"
USER_EMAIL = "owner@scale.bench"


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
    """Pages and apply rate at each size; ``on_point(size, page_results)`` lets the caller keep figure 5."""
    sub, owner, conn = tenant()
    points, have, first = [], 0, 10_000_000
    for size in sizes:
        have = grow(sub, conn, size, have, with_history=size <= history_up_to, log=log)
        names = pages.LABELS if size <= history_up_to else pages.KEY_PAGES
        log(f"  pages at {size:,} ...")
        timed = pages.measure(stack.portal_url, USER_EMAIL, SUPPORT_EMAIL, sub, size, "sqlite", names=names,
                              samples=samples)
        if on_point:
            on_point(size, timed)
        log(f"  applying {apply_count:,} deliveries at {size:,} ...")
        applied = apply.measure(stack, conn, apply_count, 2, first=first)
        first += apply_count
        points.append({"appointments": size, "contacts": size // 2, "apply_rate_per_s": applied["rate_per_s"],
                       "pages_p95_ms": {n: t["p95_ms"] for n, t in timed.items()}})
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
        if worst is not None else "",
        "met": worst is not None and worst <= 1.0,
    }


def postgres_pages(stack, pg, appointments, *, samples, log=print):
    """Figure 5 on PostgreSQL: the same subaccount shape in a throw-away cluster, served by its own gunicorn."""
    app = create_app({**stack.app_config(pg.url)})
    with app.app_context():
        sub, owner, conn = tenant()
        grow(sub, conn, appointments, 0, with_history=True, log=log)
        port = free_port()
        web = stack.start_web("web-postgresql", database_url=pg.url, port=port)
        try:
            log("  pages on PostgreSQL ...")
            return pages.measure(f"http://127.0.0.1:{port}", USER_EMAIL, SUPPORT_EMAIL, sub, appointments,
                                 "postgresql", samples=samples)
        finally:
            stack.stop_web("web-postgresql")
            del web
            # create_app bound the shared database proxy to PostgreSQL: give it back to SQLite.
            open_database(stack.database_url)
