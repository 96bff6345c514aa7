"""The live process (live_wsgi.py under gunicorn's gevent worker): open streams hold no request thread,
so sixty pages at once are all served, still answer, and each hears a change; nothing but streams is served;
the pages' tokens stay out of its access log."""
import re
import socket
import time

import requests

from portal import live
from portal.extensions import db
from portal.models import Subaccount

PAGES = 60  # more than the live process's threads would be (it has none per stream) and the portal's 8


def _signed_in_session(live_server, people):
    people.user("ann@acme.test", name="Ann Owner")
    session = requests.Session()
    form = session.get(live_server + "/signin").text
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', form).group(1)
    signed = session.post(live_server + "/signin", data={"email": "ann@acme.test", "password": "password123",
                                                         "csrf_token": token})
    assert signed.ok and "/dashboard" in signed.url
    return session


def _open_stream(port, path, cookie, origin):
    """A raw keep-open request (as EventSource makes), returning the socket once the headers are read."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    sock.sendall((f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAccept: text/event-stream\r\n"
                  f"Cookie: {cookie}\r\nOrigin: {origin}\r\n\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(4096)
    assert head.startswith(b"HTTP/1.1 200"), head[:200]
    assert b"Access-Control-Allow-Origin: " + origin.encode() in head
    return sock, head.split(b"\r\n\r\n", 1)[1]


def _read_until(sock, seen, marker):
    while marker not in seen:
        chunk = sock.recv(65536)
        assert chunk, "the live process closed the stream"
        seen += chunk
    return seen


def test_sixty_open_pages_are_all_served_and_each_hears_a_change(app, live_server, live_process, people):
    session = _signed_in_session(live_server, people)
    html = session.get(live_server + "/dashboard").text
    stream = re.search(r'data-live-stream="([^"]+)"', html).group(1).replace("&amp;", "&")
    version = re.search(r'data-live-version="([^"]*)"', html).group(1)
    path = stream.split(f":{live_process.port}", 1)[1] + f"&v={version}"
    cookie = "; ".join(f"{c.name}={c.value}" for c in session.cookies)
    streams = [_open_stream(live_process.port, path, cookie, live_server) for _ in range(PAGES)]
    try:
        # Every stream is open and the process still answers a new request at once.
        assert requests.get(f"http://127.0.0.1:{live_process.port}/live/health", timeout=10).text == "ok"
        with app.app_context(), db.connection_context():
            sub_id = Subaccount.get(Subaccount.name == "Acme Dental").id
            live.touch(sub_id)
            now = live.version(sub_id)
        for sock, seen in streams:
            heard = _read_until(sock, seen, b"event: changed")
            assert f'"version": "{now}"'.encode() in _read_until(sock, heard, b"}\n\n")
    finally:
        for sock, _ in streams:
            sock.close()
    # The page's live token (signed, but readable: it names the login) is not written to the access log.
    # A closed stream is logged once it next writes (its keep-alive, within KEEPALIVE_SECONDS).
    token = re.search(r"[?&]t=([^&]+)", path).group(1)
    deadline = time.monotonic() + 60
    while True:
        with open(live_process.log_path, errors="replace") as f:
            log = f.read()
        if "/live/stream?t=***" in log or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert "/live/stream?t=***" in log and "GET /live/health" in log and token not in log


def test_the_live_process_serves_streams_only(live_process):
    base = f"http://127.0.0.1:{live_process.port}"
    assert requests.get(base + "/signin", timeout=10).status_code == 404
    assert requests.post(base + "/webhooks/calendly/anything", data="{}", timeout=10).status_code == 404
    assert requests.get(base + "/live/stream?t=forged", timeout=10).status_code == 404
