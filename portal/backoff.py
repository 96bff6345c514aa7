"""Capped exponential backoff, shared by the supervisor (restarts) and the jobs (Redis reconnects).

Hand-written: ten lines, and the retry libraries on PyPI wrap calls, while
here the caller owns the loop (a restart or a reconnect is not a function call).
"""
import time


class Backoff:
    """1, 2, 4, ... seconds up to ``cap``; back to ``first`` once a run lasted ``stable`` seconds."""

    def __init__(self, first=1.0, cap=30.0, stable=60.0):
        self.first, self.cap, self.stable = first, cap, stable
        self._next = first
        self._began = None

    def began(self):
        """A run (a process, a connection) began now."""
        self._began = time.monotonic()

    def delay(self):
        """How long to wait before the next attempt."""
        if self._began is not None and time.monotonic() - self._began >= self.stable:
            self._next = self.first
        self._began = None
        delay, self._next = self._next, min(self._next * 2, self.cap)
        return delay
