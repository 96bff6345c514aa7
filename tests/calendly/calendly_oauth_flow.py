"""Drive the sandbox's sign-in and consent pages over HTTP, as a browser would (tests only)."""
import html
import re
from datetime import timedelta
from urllib.parse import parse_qs, urlencode, urlsplit

import requests

from portal.models import CalendlyConnection
from portal.timeutil import utcnow

HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)"')


def _hidden_fields(page):
    return {name: html.unescape(value) for name, value in HIDDEN.findall(page)}


def callback_url(stack):
    return stack["portal_url"] + "/connections/calendly/callback"


def authorize_url(stack, state="test-state", **extra):
    query = {"client_id": stack["creds"]["client_id"], "response_type": "code",
             "redirect_uri": callback_url(stack), "state": state, **extra}
    return stack["sandbox_url"] + "/oauth/authorize?" + urlencode(query)


def authorize(stack, email, password="calendly-pass", decision="allow", url=None):
    """Sign in to the sandbox and answer the consent page; returns the redirect's query (code, state, error)."""
    http = requests.Session()
    page = http.get(url or authorize_url(stack), timeout=10)
    assert page.status_code == 200, page.text[:300]
    fields = _hidden_fields(page.text)
    page = http.post(stack["sandbox_url"] + "/login",
                     data={**fields, "email": email, "password": password}, timeout=10)
    assert page.status_code == 200 and "Allow" in page.text, page.text[:300]
    fields = _hidden_fields(page.text)
    answer = http.post(stack["sandbox_url"] + "/oauth/authorize", data={**fields, "decision": decision},
                       allow_redirects=False, timeout=10)
    assert answer.status_code in (302, 303), answer.text[:300]
    location = answer.headers["Location"]
    query = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
    query["location"] = location
    return query


def exchange_code(stack, code):
    creds = stack["creds"]
    resp = requests.post(stack["sandbox_url"] + "/oauth/token",
                         data={"grant_type": "authorization_code", "code": code, "redirect_uri": callback_url(stack)},
                         auth=(creds["client_id"], creds["client_secret"]), timeout=10)
    assert resp.status_code == 200, resp.text
    return resp.json()


def expire(conn):
    """Make the stored access token look about to expire, as a worker would find it."""
    CalendlyConnection.update(token_expires_at=utcnow() - timedelta(seconds=1)).where(
        CalendlyConnection.id == conn.id).execute()
    return CalendlyConnection.get_by_id(conn.id)


def token_request(stack, **data):
    creds = stack["creds"]
    return requests.post(stack["sandbox_url"] + "/oauth/token", data=data,
                         auth=(creds["client_id"], creds["client_secret"]), timeout=10)
