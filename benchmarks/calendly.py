"""The Calendly side of the bench: the sandbox's admin API and a real OAuth connect.

``connect`` signs in to the sandbox like a browser (PKCE, consent), exchanges
the code and runs the portal's own first Save, so the connection has real
tokens, a webhook subscription and its backfill job.
"""
import base64
import hashlib
import html
import re
import secrets
from urllib.parse import parse_qs, urlencode, urlsplit

import requests

CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')
CALENDLY_PASSWORD = "calendly-bench"


class Sandbox:
    """``/_sandbox/`` admin calls."""

    def __init__(self, url):
        self.url = url
        self.http = requests.Session()

    def call(self, method, path, **kwargs):
        resp = self.http.request(method, self.url + "/_sandbox" + path, timeout=30, **kwargs)
        if resp.status_code >= 300:
            raise RuntimeError(f"sandbox {method} {path}: {resp.status_code} {resp.text[:300]}")
        return resp.json() if resp.content else None

    def create_user(self, email, plan="teams"):
        return self.call("POST", "/users", json={"name": email.split("@")[0].title(), "email": email,
                                                 "password": CALENDLY_PASSWORD, "plan": plan, "stage": "paid"})

    def create_event_type(self, name, hosts):
        return self.call("POST", "/event_types", json={"name": name, "hosts": hosts, "duration": 30})

    def book(self, event_type_uri, start_time, name, email):
        return self.call("POST", "/bookings", json={"event_type": event_type_uri, "start_time": start_time,
                                                    "invitee": {"name": name, "email": email}})

    def faults(self, **faults):
        return self.call("POST", "/faults", json=faults)

    def clear_faults(self):
        return self.call("DELETE", "/faults")


def authorization_code(sandbox_url, client_id, redirect_uri, email):
    """Sign in to the sandbox and Allow, like a browser; returns ``(code, verifier)``."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    state = secrets.token_urlsafe(12)
    authorize = "/oauth/authorize?" + urlencode({
        "client_id": client_id, "response_type": "code", "redirect_uri": redirect_uri, "state": state,
        "code_challenge": challenge, "code_challenge_method": "S256"})
    http = requests.Session()
    page = http.get(sandbox_url + authorize, timeout=10)
    page.raise_for_status()
    signin = http.post(sandbox_url + "/login", timeout=10, data={
        "csrf_token": CSRF_FIELD.search(page.text).group(1), "next": authorize, "email": email,
        "password": CALENDLY_PASSWORD})
    signin.raise_for_status()
    fields = {k: html.unescape(v) for k, v in
              re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', signin.text)}
    fields["decision"] = "allow"
    allowed = http.post(sandbox_url + "/oauth/authorize", data=fields, allow_redirects=False, timeout=10)
    if allowed.status_code not in (302, 303):
        raise RuntimeError(f"the sandbox refused the consent: {allowed.status_code} {allowed.text[:200]}")
    params = parse_qs(urlsplit(allowed.headers["Location"]).query)
    return params["code"][0], verifier


def connect(stack, user, subaccount, calendly_email, calendars):
    """Connect ``calendly_email`` for ``user`` and Save ``calendars`` (names); returns the connection.

    Needs the bench's app context. The first Save enqueues the backfill.
    """
    from portal.connections import service
    from portal.models import CalendlyConnection

    redirect_uri = stack.env()["CALBRIDGE_PORTAL_BASE_URL"] + "/connections/calendly/callback"
    code, verifier = authorization_code(stack.sandbox_url, stack.creds["client_id"], redirect_uri, calendly_email)
    resp = requests.post(stack.sandbox_url + "/oauth/token", timeout=10, data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri, "code_verifier": verifier,
    }, auth=(stack.creds["client_id"], stack.creds["client_secret"]))
    resp.raise_for_status()
    connection, _ = service.connect_from_oauth(user, subaccount, resp.json())
    offered = service.offered_calendars(connection)
    chosen = [o.uri for o in offered if o.name in set(calendars)]
    service.save_selection(connection, offered, chosen, True, actor=user)
    return CalendlyConnection.get_by_id(connection.id)
