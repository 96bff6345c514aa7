"""Fixtures of the reliability suite (``pytest -m reliability``).

- ``reliability_report``: collects each scenario's figures and writes
  ``build/reliability/reliability-report.md`` when the session ends;
- ``own_redis``: a private redis-server the test may stop and start again;
- ``procs``: RQ workers and gunicorn portals as subprocesses the test may kill;
- ``secrets``: every secret the stack holds, for the leak checks.
"""
import logging
from urllib.parse import urlsplit

import pytest

from portal.devstack import RedisServer

from .helpers import Processes, Secrets
from .report import ReliabilityReport

_REPORT = ReliabilityReport()


@pytest.fixture(scope="session", autouse=True)
def reliability_report(stack):
    yield _REPORT
    parts = urlsplit(stack["database_url"])
    database = "PostgreSQL" if parts.scheme.startswith("postgres") else "SQLite"
    path = _REPORT.write(database)
    if path:
        print(f"\nreliability report: {path}")


@pytest.fixture
def own_redis():
    server = RedisServer().start()
    yield server
    server.stop()


@pytest.fixture
def procs(stack, tmp_path):
    processes = Processes(stack, tmp_path)
    yield processes
    processes.stop_all()


@pytest.fixture
def secrets(stack, app):
    return Secrets(stack, app)


@pytest.fixture
def debug_logs(caplog):
    """Capture every log record of the portal in-process, debug included (the leak checks read them)."""
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.INFO, logger="peewee")  # every SQL statement: noise, and no secret in clear
    return caplog
