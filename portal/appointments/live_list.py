"""The Calendars list as a live region: what it shows, the key it is kept under, and how it is drawn.

The list page (views.index), its live poll and its live stream
(portal/live_stream.py) all draw it from here, so a page's stream sends the
very list the page would have fetched.
"""
from flask import render_template, url_for

from portal import live_fragments
from portal.appointments import queries
from portal.localtime import zone_name
from portal.tenancy import current_subaccount
from portal.timeutil import utcnow


def list_args(args):
    when = args.get("when", "upcoming")
    if when not in queries.WHEN_FILTERS:
        when = "upcoming"
    return {"when": when, "calendar": args.get("calendar") or None}


class LiveList:
    """One subaccount's list for this person's zone, filter, calendar and page."""

    def __init__(self, sub, args):
        self.sub, self.args = sub, list_args(args)
        self.after, self.before = args.get("after"), args.get("before")
        self.parts = ("appointments", self.args["when"], self.args["calendar"], self.after, self.before,
                      zone_name())
        self.key = live_fragments.list_key(self.parts)

    @classmethod
    def for_url(cls, path, args):
        """The list a page's ``data-live-list`` URL names (None for another path)."""
        if path != url_for("appointments.index"):
            return None
        sub = current_subaccount()
        return cls(sub, args) if sub is not None else None

    def context(self):
        page = queries.appointment_page(self.sub, after=self.after, before=self.before, now=utcnow(), **self.args)
        has_any = bool(page.rows) or queries.has_any(self.sub)
        return {"page": page, "version": queries.fingerprint(page, has_any), "args": self.args, "after": self.after,
                "before": self.before, "paged": bool(self.after or self.before), "has_any": has_any,
                "live_key": self.key}

    def _draw(self):
        drawn = self.context()
        return drawn["version"], render_template("appointments/_appointments.html", **drawn)

    def draw(self):
        """``(fingerprint, html)``, drawn at most once per live version for every page showing this list."""
        from portal.extensions import db

        def cached():
            return live_fragments.cached(self.sub.id, self.parts, self._draw, clock_bound=self.args["when"] != "all")

        if not db.is_closed():
            return cached()
        with db.connection_context():  # a live stream holds no connection between its events
            return cached()
