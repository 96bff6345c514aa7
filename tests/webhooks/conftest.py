"""Fixtures of the intake tests."""
from sync.helpers import private_redis  # noqa: F401
