"""The Calendars list as a live region: what it shows, the key it is kept under, and how it is drawn.

The list page (views.index), its live poll and its live stream
(portal/live_stream.py) all draw it from here, so a page's stream sends the
very list the page would have fetched.
"""
import re
from html import unescape

from flask import current_app, url_for

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
        # The template alone, without the page's context processors (the bell's count, the connection banner, the
        # subaccount switcher: three queries the list does not show), drawn ~9 times a second by the live process.
        template = current_app.jinja_env.get_template("appointments/_appointments.html")
        return drawn["version"], template.render(time_zone_name=zone_name, **drawn)

    def draw(self):
        """``(fingerprint, html)``, drawn at most once per live version for every page showing this list."""
        from portal.extensions import db

        def cached():
            return live_fragments.cached(self.sub.id, self.parts, self._draw, clock_bound=self.args["when"] != "all")

        if not db.is_closed():
            return cached()
        with db.connection_context():  # a live stream holds no connection between its events
            return cached()


# The list's rows, its pager and the rest, as drawn by appointments/_appointments.html (no nested rows or navs).
_ROWS = re.compile(r'<tbody>(.*)</tbody>', re.S)
_ROW = re.compile(r'<tr data-id="(\d+)".*?</tr>', re.S)
_PAGER = re.compile(r'<nav class="pager".*?</nav>', re.S)
_LIST_URL = re.compile(r'data-live-list="([^"]*)"')


def _parts(fingerprint, html):
    """``(rest, [(id, row html)], pager html or None, list URL)``; ``rest`` names neither rows nor fingerprint."""
    body = _ROWS.search(html)
    if body is None:
        return None
    rows = [(m.group(1), m.group(0)) for m in _ROW.finditer(body.group(1))]
    pager = _PAGER.search(html)
    rest = html[:body.start()] + html[body.end():]
    rest = _PAGER.sub("<pager>", rest).replace(fingerprint, "")
    found = _LIST_URL.search(html)
    return rest, rows, pager.group(0) if pager else None, unescape(found.group(1)) if found else None


def changes(before, after):
    """What a page showing drawing ``before`` needs to show ``after`` (both ``(fingerprint, html)``), or None.

    ``{"from", "order", "rows", "pager", "list_url"}``: the row ids in order, the HTML of only the rows that
    are new or changed, and the pager. None when anything else differs (the caption, an empty state, a pager
    come or gone): the page then takes the whole list. Sent beside the whole list in each stream event, so a
    page drawn at ``before`` parses a few rows instead of the list (issue 19, figure 2: 50 pages taking 20
    rows a second each; parsing and comparing the whole list was a third of a page's work).
    """
    if before is None or before[0] == after[0]:
        return None
    old, new = _parts(*before), _parts(*after)
    if old is None or new is None or old[0] != new[0]:
        return None
    had = dict(old[1])
    return {"from": before[0], "order": [row_id for row_id, _ in new[1]],
            "rows": {row_id: html for row_id, html in new[1] if had.get(row_id) != html},
            "pager": new[2] if new[2] != old[2] else None, "list_url": new[3]}
