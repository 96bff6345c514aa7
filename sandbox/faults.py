"""Fault injection and rate limiting, held in memory by the running sandbox.

Faults (set through ``/_sandbox/faults``):
- ``webhook_drop_rate``: fraction of deliveries logged as dropped and never sent;
- ``webhook_delay_ms``: pause before each delivery attempt;
- ``api_error_rate``: fraction of API calls answered 500 Internal Server Error;
- ``rate_limit_per_minute``: overrides the per-user API limit;
- ``token_rate_limit_per_minute``: enforce a limit on ``POST /oauth/token`` per user;
- ``seed``: makes the random draws reproducible.
"""
import collections
import math
import random
import threading
import time
from dataclasses import dataclass

PAID_LIMIT = 500  # requests per user per minute (API-FACTS §8)
FREE_LIMIT = 50
TOKEN_LIMIT_DOCUMENTED = 8

RATES = ("webhook_drop_rate", "api_error_rate")
INTS = ("webhook_delay_ms", "rate_limit_per_minute", "token_rate_limit_per_minute", "seed")


class FaultError(ValueError):
    pass


class Faults:
    def __init__(self):
        self._lock = threading.Lock()
        self.clear()

    def clear(self):
        with self._lock:
            self.settings = {}
            self._rng = random.Random()

    def update(self, data):
        """Validate and merge ``data``; unknown keys are an error."""
        if not isinstance(data, dict):
            raise FaultError("expected a JSON object")
        clean = {}
        for key, value in data.items():
            if key in RATES:
                if value is None:
                    clean[key] = None
                    continue
                if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 <= value <= 1:
                    raise FaultError(f"{key} must be a number between 0 and 1")
                clean[key] = float(value)
            elif key in INTS:
                if value is None:
                    clean[key] = None
                    continue
                if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                    raise FaultError(f"{key} must be a non-negative integer")
                clean[key] = value
            else:
                raise FaultError(f"unknown fault {key!r}")
        with self._lock:
            for key, value in clean.items():
                if value is None:
                    self.settings.pop(key, None)
                else:
                    self.settings[key] = value
            if "seed" in clean:
                self._rng = random.Random(clean["seed"])
        return self.as_dict()

    def as_dict(self):
        with self._lock:
            return dict(self.settings)

    def get(self, key, default=None):
        with self._lock:
            return self.settings.get(key, default)

    def roll(self, key):
        """True with the probability configured under ``key``."""
        with self._lock:
            rate = self.settings.get(key) or 0
            return rate > 0 and self._rng.random() < rate

    def rate_limit_for(self, org):
        override = self.get("rate_limit_per_minute")
        if override is not None:
            return override
        return FREE_LIMIT if org is not None and org.is_free else PAID_LIMIT


@dataclass
class Rate:
    limit: int
    remaining: int
    reset: int
    allowed: bool


class RateLimiter:
    """Fixed one-minute windows per key, counted in memory."""

    def __init__(self, window=60):
        self.window = window
        self._lock = threading.Lock()
        self._counts = {}

    def hit(self, key, limit, now=None):
        now = time.time() if now is None else now
        start = now - (now % self.window)
        with self._lock:
            window_start, used = self._counts.get(key, (start, 0))
            if window_start != start:
                window_start, used = start, 0
            used += 1
            self._counts[key] = (window_start, used)
        reset = max(1, math.ceil(window_start + self.window - now))
        allowed = limit is None or used <= limit
        shown = limit if limit is not None else 0
        return Rate(limit=shown, remaining=max(0, shown - used), reset=reset, allowed=allowed)

    def used(self, key, now=None):
        now = time.time() if now is None else now
        start = now - (now % self.window)
        with self._lock:
            window_start, used = self._counts.get(key, (start, 0))
        return used if window_start == start else 0

    def clear(self):
        with self._lock:
            self._counts.clear()


class RollingLimiter:
    """At most ``limit`` hits per key in any 60 s (the token endpoint: no burst of 2x at a window edge)."""

    def __init__(self, window=60):
        self.window = window
        self._lock = threading.Lock()
        self._hits = {}

    def hit(self, key, limit, now=None):
        now = time.time() if now is None else now
        with self._lock:
            hits = self._hits.setdefault(key, collections.deque())
            while hits and hits[0] <= now - self.window:
                hits.popleft()
            allowed = limit is None or len(hits) < limit
            if allowed:
                hits.append(now)  # refused requests do not count, as a refused client waits
            used = len(hits)
            reset = max(1, math.ceil(hits[0] + self.window - now)) if hits else self.window
        shown = limit if limit is not None else 0
        return Rate(limit=shown, remaining=max(0, shown - used), reset=reset, allowed=allowed)

    def clear(self):
        with self._lock:
            self._hits.clear()
