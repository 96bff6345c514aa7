"""Helpers for the Connections tests: drive the connect flow, read what a page says."""
import html
import re
from urllib.parse import urlsplit

from calendly_oauth_flow import authorize

CONNECT = "/calendars/settings/connections/calendly/connect"
INDEX = "/calendars/settings/connections"


class ConnectFlow:
    """The connect flow driven with the Flask test client and real HTTP to the sandbox."""

    def __init__(self, client, stack):
        self.client, self.stack = client, stack

    def start(self):
        resp = self.client.post(CONNECT)
        assert resp.status_code == 302, resp.status_code
        return resp.headers["Location"]

    def callback(self, query):
        resp = self.client.get("/connections/calendly/callback", query_string=query)
        assert resp.status_code == 302, resp.get_data(as_text=True)[:500]
        return resp

    def connect(self, calendly_email, decision="allow"):
        """Connect through Calendly's pages; returns the callback's redirect response."""
        answer = authorize(self.stack, calendly_email, decision=decision, url=self.start())
        return self.callback({k: v for k, v in answer.items() if k != "location"})

    def page(self, resp):
        """Follow a redirect within the portal and return the page text."""
        location = urlsplit(resp.headers["Location"])
        target = location.path + (f"?{location.query}" if location.query else "")
        return self.client.get(target).get_data(as_text=True)


OPTION = re.compile(
    r'name="event_type" value="(?P<uri>[^"]+)"[^>]*>\s*<label for="[^"]+">(?P<name>[^<]+)</label>\s*'
    r'(?:<span class="badge badge-shared">(?P<kind>[^<]+)</span>)?'
)


def offered(page):
    """The calendars a selection modal offers: {name: (event type uri, shared label or None)}."""
    return {html.unescape(m["name"]): (html.unescape(m["uri"]), m["kind"] and html.unescape(m["kind"]))
            for m in OPTION.finditer(page)}


def flashes(page):
    return [html.unescape(m) for m in re.findall(r'<div class="flash flash-\w+" role="\w+">([^<]*)</div>', page)]
