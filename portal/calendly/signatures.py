"""Calendly webhook signatures (SPEC C7).

Header ``Calendly-Webhook-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>``;
the MAC covers ``f"{t}.{raw body}"`` with the signing key as given (not
base64-decoded). Deliveries older than ``tolerance`` seconds are refused
so a captured request cannot be replayed.
"""
import hashlib
import hmac
import time

HEADER = "Calendly-Webhook-Signature"


def _mac(key, t, body):
    if isinstance(body, str):
        body = body.encode()
    return hmac.new(key.encode(), str(t).encode() + b"." + body, hashlib.sha256).hexdigest()


def sign(key, body_bytes, t=None):
    """The header value Calendly would send for ``body_bytes`` at time ``t``."""
    t = int(time.time()) if t is None else int(t)
    return f"t={t},v1={_mac(key, t, body_bytes)}"


def parse(header):
    """``(t, [v1 signatures])`` from a header, or ``(None, [])`` when malformed."""
    if not header or not isinstance(header, str):
        return None, []
    t, sigs = None, []
    for part in header.split(","):
        name, sep, value = part.strip().partition("=")
        if not sep:
            return None, []
        if name == "t":
            t = value.strip()
        elif name == "v1":
            sigs.append(value.strip())
    # isascii(): str.isdigit() also accepts characters like "²" that int() refuses. A time of more
    # than 12 digits (past the year 33000) is malformed: compared with a float it would overflow.
    if t is None or not (t.isascii() and t.isdigit()) or len(t) > 12 or not sigs:
        return None, []
    return int(t), sigs


def verify(header, body_bytes, key, tolerance=180, now=None):
    """True when ``header`` is a fresh, valid signature of ``body_bytes`` under ``key``."""
    if not key:
        return False
    t, sigs = parse(header)
    if t is None:
        return False
    now = time.time() if now is None else now
    if abs(now - t) > tolerance:
        return False
    expected = _mac(key, t, body_bytes)
    # Compare every candidate so timing does not reveal which one matched.
    return any([hmac.compare_digest(expected, s) for s in sigs])
