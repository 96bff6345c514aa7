"""A closed-loop HTTP/1.1 load generator on raw keep-alive sockets.

Python's HTTP clients cost more per request than the server under test;
this one sends prepared bytes and reads just the status line, headers and
``Content-Length`` body, so most of the two cores go to gunicorn.
"""
import socket
import threading
import time
from dataclasses import dataclass, field


@dataclass
class Outcome:
    """What one load run saw: per-request latencies and statuses, in completion order."""

    latencies: list = field(default_factory=list)  # seconds, 2xx only
    ok_keys: list = field(default_factory=list)  # the key of each 2xx request
    statuses: dict = field(default_factory=dict)  # status -> count
    errors: int = 0  # transport errors (no answer)
    seconds: float = 0.0

    @property
    def ok(self):
        return len(self.latencies)

    @property
    def rate(self):
        return self.ok / self.seconds if self.seconds else 0.0


class Connection:
    def __init__(self, host, port, timeout=10):
        self.address, self.timeout = (host, port), timeout
        self.sock = None
        self.buffer = b""

    def open(self):
        self.close()
        self.sock = socket.create_connection(self.address, timeout=self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffer = b""

    def close(self):
        if self.sock is not None:
            try:
                self.sock.close()
            except OSError:
                pass
        self.sock = None

    def exchange(self, request_bytes):
        """Send one request and read its response; returns ``(status, body)``."""
        if self.sock is None:
            self.open()
        self.sock.sendall(request_bytes)
        while b"\r\n\r\n" not in self.buffer:
            self._fill()
        head, _, rest = self.buffer.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        length, close = 0, False
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value.strip())
            elif name == b"connection" and value.strip().lower() == b"close":
                close = True
        while len(rest) < length:
            self.buffer = rest
            self._fill()
            rest = self.buffer
        body, self.buffer = rest[:length], rest[length:]
        if close:
            self.close()
        return status, body

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("server closed the connection")
        self.buffer += chunk


def http_request(method, path, host, body=b"", headers=None):
    """The bytes of one HTTP/1.1 request with a body (keep-alive)."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", f"Content-Length: {len(body)}"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def run(make_request, *, host, port, concurrency, seconds, max_requests):
    """Send requests from ``concurrency`` connections for ``seconds`` (or ``max_requests``).

    ``make_request(n)`` returns ``(key, request_bytes)`` for the ``n``-th
    request; a request that meets a closed connection is sent again once on a
    fresh one (a keep-alive close is not a failure), otherwise it counts as an error.
    """
    outcome = Outcome()
    lock = threading.Lock()
    counter = iter(range(max_requests))
    deadline = time.perf_counter() + seconds

    def loop():
        conn = Connection(host, port)
        latencies, keys, statuses, errors = [], [], {}, 0
        while time.perf_counter() < deadline:
            try:
                n = next(counter)
            except StopIteration:
                break
            key, raw = make_request(n)
            began = time.perf_counter()
            for attempt in (1, 2):
                try:
                    status, _ = conn.exchange(raw)
                    break
                except (OSError, ConnectionError, ValueError, IndexError):
                    conn.close()
                    if attempt == 2:
                        status = None
            elapsed = time.perf_counter() - began
            if status is None:
                errors += 1
                continue
            statuses[status] = statuses.get(status, 0) + 1
            if 200 <= status < 300:
                latencies.append(elapsed)
                keys.append(key)
        conn.close()
        with lock:
            outcome.latencies += latencies
            outcome.ok_keys += keys
            outcome.errors += errors
            for s, c in statuses.items():
                outcome.statuses[s] = outcome.statuses.get(s, 0) + c

    threads = [threading.Thread(target=loop, daemon=True) for _ in range(concurrency)]
    began = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    outcome.seconds = time.perf_counter() - began
    return outcome
