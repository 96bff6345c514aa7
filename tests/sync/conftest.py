"""Fixtures of the sync tests (kept in ``helpers`` so other test packages can use them too)."""
from .helpers import private_redis  # noqa: F401
