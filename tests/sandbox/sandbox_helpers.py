"""Helpers shared by the sandbox tests: constants, admin/API clients, a webhook receiver."""
import hashlib
import hmac
import http.server
import json
import re
import threading
import time
from datetime import UTC, datetime, timedelta
from html import unescape
from urllib.parse import urlencode

import requests

BASE = "http://sandbox.test"
PORTAL_CLIENT = {"name": "Calbridge Test", "client_id": "portal-client", "client_secret": "portal-secret",
                 "redirect_uris": ["http://127.0.0.1:9/callback"], "webhook_signing_key": "portal-signing-key"}


def at(days, hour=10, minute=0):
    """An ISO start time ``days`` from today (UTC) at ``hour:minute``."""
    day = datetime.now(UTC).date() + timedelta(days=days)
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def verify_signature(raw, header, key, tolerance=180, now=None):
    """The receiver side, exactly as API-FACTS §7 describes it."""
    parts = dict(p.split("=", 1) for p in header.split(","))
    t, sig = parts.get("t"), parts.get("v1")
    now = time.time() if now is None else now
    if not t or not sig or abs(now - int(t)) > tolerance:
        return False
    mac = hmac.new(key.encode(), t.encode() + b"." + raw, hashlib.sha256).hexdigest()
    return hmac.compare_digest(mac, sig)


class Admin:
    """``/_sandbox`` through the test client (or over HTTP with ``http``)."""

    def __init__(self, client=None, url=None):
        self.client, self.url = client, url

    def call(self, method, path, body=None, expect=None):
        if self.client is not None:
            resp = self.client.open("/_sandbox" + path, method=method, json=body)
            status, data = resp.status_code, resp.get_json(silent=True)
        else:
            resp = requests.request(method, self.url + "/_sandbox" + path, json=body, timeout=10)
            status, data = resp.status_code, (resp.json() if resp.content else None)
        if expect is not None:
            assert status == expect, f"{method} {path}: {status} {data}"
        return data if expect is not None else (status, data)

    def user(self, email, plan="professional", stage="paid", name=None, **extra):
        body = {"name": name or email.split("@")[0].title(), "email": email, "password": "pw-" + email,
                "plan": plan, "stage": stage, "timezone": "UTC", **extra}
        return self.call("POST", "/users", body, expect=201)

    def event_type(self, name, hosts, pooling_type=None, duration=30, **extra):
        body = {"name": name, "hosts": hosts, "pooling_type": pooling_type, "duration": duration, **extra}
        return self.call("POST", "/event_types", body, expect=201)

    def book(self, event_type_uri, start_time, email="invitee@example.com", name="Ivy Invitee", **extra):
        body = {"event_type": event_type_uri, "start_time": start_time, "invitee": {"name": name, "email": email},
                **extra}
        return self.call("POST", "/bookings", body, expect=201)

    def cancel(self, invitee_uri, reason="Conflict"):
        return self.call("POST", f"/invitees/{invitee_uri.rsplit('/', 1)[1]}/cancel", {"reason": reason}, expect=200)

    def reschedule(self, invitee_uri, start_time):
        return self.call("POST", f"/invitees/{invitee_uri.rsplit('/', 1)[1]}/reschedule",
                         {"start_time": start_time}, expect=201)

    def faults(self, **faults):
        return self.call("POST", "/faults", faults, expect=200)

    def patch_user(self, user_uri, **fields):
        return self.call("PATCH", "/users/" + user_uri.rsplit("/", 1)[1], fields, expect=200)

    def deliveries(self):
        return self.call("GET", "/webhook_deliveries", expect=200)["collection"]

    def subscriptions(self):
        return self.call("GET", "/webhook_subscriptions", expect=200)["collection"]

    def tokens(self):
        return self.call("GET", "/tokens", expect=200)["collection"]


class Browser:
    """A user agent that signs in and answers the consent page (no JavaScript needed)."""

    def __init__(self, base):
        self.base, self.http = base, requests.Session()

    @staticmethod
    def _hidden(html):
        found = re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', html)
        return {name: unescape(value) for name, value in found}

    def sign_in(self, email, password, authorize_url):
        page = self.http.get(authorize_url)
        assert page.status_code == 200 and "Sign in" in page.text and 'for="email">Email<' in page.text
        fields = self._hidden(page.text)
        return self.http.post(f"{self.base}/login", data={**fields, "email": email, "password": password},
                              allow_redirects=False)

    def consent(self, authorize_url, decision="allow"):
        page = self.http.get(authorize_url)
        assert page.status_code == 200 and "Allow" in page.text and "Deny" in page.text, page.text[:300]
        fields = {k: v for k, v in self._hidden(page.text).items() if k != "next"}
        resp = self.http.post(f"{self.base}/oauth/authorize", data={**fields, "decision": decision},
                              allow_redirects=False)
        assert resp.status_code == 302, resp.text[:300]
        return resp.headers["Location"]


class Api:
    """The Calendly API through the test client, each response checked against the OpenAPI."""

    def __init__(self, client, contract):
        self.client, self.contract = client, contract

    def call(self, method, path, token, json_body=None, params=None, validate=True):
        if params:
            path = f"{path}?{urlencode(params)}"
        path = path.replace(BASE, "")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        resp = self.client.open(path, method=method, json=json_body, headers=headers)
        if validate:
            self.contract.check_flask(method, path, resp)
        return resp

    def get(self, path, token, **params):
        return self.call("GET", path, token, params=params)

    def post(self, path, token, body):
        return self.call("POST", path, token, json_body=body)

    def delete(self, path, token):
        return self.call("DELETE", path, token)


class Receiver:
    """Collects POSTs; answers each with the next status from ``statuses`` (then 200), after the next
    pause from ``delays`` if any."""

    def __init__(self):
        self.requests = []
        self.gets = []
        self.statuses = []
        self.delays = []  # seconds to wait before answering each POST (then none)
        self.cond = threading.Condition()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver.cond:
                    status = receiver.statuses.pop(0) if receiver.statuses else 200
                    delay = receiver.delays.pop(0) if receiver.delays else 0
                    receiver.requests.append({"path": self.path, "headers": dict(self.headers), "body": raw,
                                              "status": status})
                    receiver.cond.notify_all()
                if delay:
                    time.sleep(delay)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_GET(self):  # an OAuth redirect landing here
                with receiver.cond:
                    receiver.gets.append(self.path)
                    receiver.cond.notify_all()
                body = b"<!doctype html><title>Connected</title><h1>Connected</h1>"
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = f"http://127.0.0.1:{self.server.server_port}"
        self.url = f"{self.origin}/hooks/calendly"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def wait_for(self, count, timeout=5.0):
        deadline = time.monotonic() + timeout
        with self.cond:
            while len(self.requests) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self.cond.wait(remaining)
            return list(self.requests)

    def bodies(self):
        return [json.loads(r["body"]) for r in self.requests]

    def close(self):
        self.server.shutdown()
        self.server.server_close()
