"""Figures 5 and 7: server time of the busiest pages with a subaccount at scale.

The subaccount is filled straight into the database (``data.fill``), then
each page is fetched ``samples`` times in a row over loopback from the
portal's gunicorn by a signed-in user (a support user for the console), on
one keep-alive connection. Server time is what the portal itself says in
its ``Server-Timing`` header (``portal.server_timing``: from its first
request handler to its last); the client's round trip (request sent to
whole body read) is reported beside it. SQLite and PostgreSQL are measured
the same way.
"""
import re
import time

import requests

from portal import server_timing
from portal.keyset import encode_cursor
from portal.extensions import db
from portal.models import Appointment

from . import data, stats

GOAL_MS = 100
CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')
LABELS = {
    "calendars_first": "Calendars list, first page",
    "calendars_deep": "Calendars list, deep page (keyset cursor)",
    "week": "Week view (≈500 appointments)",
    "contacts": "Contacts list",
    "connections": "Connections page",
    "support": "Support console",
}
KEY_PAGES = ("calendars_first", "calendars_deep", "week", "contacts")


def signed_in(base_url, email, password=data.PASSWORD):
    http = requests.Session()
    page = http.get(base_url + "/signin", timeout=30)
    token = CSRF_FIELD.search(page.text).group(1)
    resp = http.post(base_url + "/signin", data={"csrf_token": token, "email": email, "password": password},
                     timeout=30, allow_redirects=False)
    if resp.status_code not in (302, 303):
        raise RuntimeError(f"could not sign in as {email}: {resp.status_code}")
    return http


def paths(subaccount, appointments):
    """The URL of each page for a subaccount filled with ``appointments`` rows."""
    with db.connection_context():
        # Deep: 90% of the way down the "All" list (latest first), reached by its cursor.
        row = (Appointment.select(Appointment.start, Appointment.id)
               .where(Appointment.subaccount == subaccount)
               .order_by(Appointment.start, Appointment.id).offset(appointments // 10).limit(1).first())
    return {
        "calendars_first": "/calendars/",
        "calendars_deep": f"/calendars/?when=all&after={encode_cursor(row.start, row.id)}",
        "week": f"/calendars/week?start={data.busy_week(appointments)}",
        "contacts": "/contacts/",
        "connections": "/calendars/settings/connections",
        "support": "/support/",
    }


def time_page(http, url, samples, warmup=3):
    """``(server, round_trip)`` seconds of ``samples`` sequential GETs (after ``warmup``)."""
    for _ in range(warmup):
        resp = http.get(url, timeout=60)
        if resp.status_code != 200:
            raise RuntimeError(f"GET {url} answered {resp.status_code}")
    server, round_trip = [], []
    for _ in range(samples):
        began = time.perf_counter()
        resp = http.get(url, timeout=60)
        round_trip.append(time.perf_counter() - began)
        if resp.status_code != 200:
            raise RuntimeError(f"GET {url} answered {resp.status_code}")
        ms = server_timing.parse(resp.headers.get("Server-Timing"))
        if ms is None:
            raise RuntimeError(f"GET {url} has no Server-Timing header")
        server.append(ms / 1000)
    return server, round_trip


def measure(base_url, user_email, support_email, subaccount, appointments, database, *, names=None,
            samples=40):
    """``{name: {"p95_ms", "database", ...}}`` for the pages in ``names`` (all by default)."""
    names = names or tuple(LABELS)
    urls = paths(subaccount, appointments)
    user_http = signed_in(base_url, user_email)
    support_http = signed_in(base_url, support_email) if "support" in names else None
    out = {}
    for name in names:
        http = support_http if name == "support" else user_http
        server, round_trip = time_page(http, base_url + urls[name], samples)
        summary, trip = stats.latency_summary(server), stats.latency_summary(round_trip)
        out[name] = {"p95_ms": summary["p95_ms"], "database": database, "p50_ms": summary["p50_ms"],
                     "measured": "server time from the portal's Server-Timing header",
                     "round_trip_p50_ms": trip["p50_ms"], "round_trip_p95_ms": trip["p95_ms"],
                     "label": LABELS[name], "path": urls[name].split("?after=")[0].split("&after=")[0],
                     "appointments": appointments, "met": summary["p95_ms"] <= GOAL_MS}
    return out
