"""Fixtures of the reliability suite (``pytest -m reliability``).

- ``reliability_report``: collects each scenario's figures and every test's
  outcome (the ``pytest_runtest_makereport`` hook below) and writes
  ``build/reliability/reliability-report.md`` when the session ends;
- ``own_redis``: a private redis-server the test may stop and start again;
- ``procs``: RQ workers and gunicorn portals as subprocesses the test may kill;
- ``secrets``: every secret the stack holds, for the leak checks;
- ``private_live``: a whole private stack (own Redis, gunicorn portal, RQ
  worker) with Ada's Calendly account connected through the sandbox;
- ``supervised_jobs``: ``make run``'s workers and scheduler (its process
  table's rows) under its supervisor, on ``private_live``'s Redis, in place
  of ``private_live``'s worker.
"""
import logging
import threading
from types import SimpleNamespace
from urllib.parse import urlsplit

import pytest

from portal.devstack import RedisServer, process_table
from portal.supervisor import Supervisor
from portal.models import CalendlyConnection, Status, Subaccount
from sync.helpers import connect_via_sandbox

from .helpers import Processes, Secrets, wait_until
from .report import ReliabilityReport

_REPORT = ReliabilityReport()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    _REPORT.start(item.nodeid)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Every test of the suite, its real outcome and its failure message, for the report's verdict."""
    outcome = yield
    report = outcome.get_result()
    message = ""
    if report.failed and call.excinfo is not None:
        message = call.excinfo.exconly()
    elif report.skipped and isinstance(report.longrepr, tuple):
        message = report.longrepr[2]
    _REPORT.phase(item.nodeid, report.when, report.outcome, message)


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
    caplog.set_level(logging.INFO, logger="peewee")  # every SQL statement: noise, and no secret in clear
    caplog.set_level(logging.DEBUG)  # last: it also sets the capturing handler's level
    return caplog


@pytest.fixture
def private_live(app, app_ctx, stack, sandbox, people, own_redis, procs):
    """Ada's Calendly "Cleaning" calendar connected to a portal and a worker of this test's own.

    The portal runs under gunicorn at its own address, which is the webhook
    callback Calendly (the sandbox) is given; both processes use ``own_redis``.
    """
    app.config.update(REDIS_URL=own_redis.url, INBOX_SWEEP_AFTER_SECONDS=1)
    portal = procs.portal(own_redis.url)
    app.config["PORTAL_BASE_URL"] = portal.url
    worker = procs.worker(own_redis.url, "private-worker")
    ada = people.user("ada@acme.test", name="Ada Admin")
    sub = Subaccount.get(name="Acme Dental")
    sandbox.create_user("ada@cal.test", name="Ada Calendly")
    cleaning = sandbox.create_event_type("Cleaning", hosts=["ada@cal.test"])
    conn = connect_via_sandbox(stack, ada, sub, "ada@cal.test", ["Cleaning"])
    wait_until(lambda: CalendlyConnection.get_by_id(conn.id).status == Status.CONNECTED, timeout=30,
               message="the backfill to finish")
    return SimpleNamespace(portal=portal, worker=worker, ada=ada, sub=sub, cleaning=cleaning,
                           connection=CalendlyConnection.get_by_id(conn.id))


JOB_ROWS = ("worker-1", "worker-2", "scheduler")


@pytest.fixture
def supervised_jobs(private_live, own_redis, procs, stack, tmp_path):
    private_live.worker.stop()
    rows = [row for row in process_table(portal_port=0, sandbox_port=0, workers=2) if row.name in JOB_ROWS]
    env = procs.env(own_redis.url, CALBRIDGE_INBOX_SWEEP_AFTER_SECONDS=2)
    supervisor = Supervisor(rows, env, str(tmp_path), stack["instance"]).start()
    done = threading.Event()
    watcher = threading.Thread(target=supervisor.run, args=(done.is_set,), daemon=True)
    watcher.start()
    yield supervisor
    done.set()
    watcher.join(10)
    supervisor.stop(timeout=10)
