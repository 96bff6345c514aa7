"""Opening the database and checking its schema.

SQLite by default, PostgreSQL when ``DATABASE_URL`` names one (SPEC R1, R3).
The schema comes from the numbered steps in ``portal.migrations``, applied by
``flask --app wsgi admin migrate``; a process only checks that none is pending.
"""
import os

from playhouse import db_url
from playhouse.db_url import connect
from playhouse.pool import PooledDatabase

from portal import migrations
from portal.extensions import db

SQLITE_PRAGMAS = {
    "journal_mode": "wal",
    "busy_timeout": 10000,
    "foreign_keys": 1,
    "synchronous": "normal",
    "cache_size": -32000,
}


# Each request and each job checks a connection out of a per-process pool:
# opening one (and, on SQLite, setting its pragmas) costs more than the
# webhook intake's own queries. A process holds at most one per thread;
# idle ones are closed after five minutes.
POOL_STALE_SECONDS = 300


def pooled_url(url):
    """``url`` with the pooled variant of its scheme (``sqlite+pool://``) where Peewee has one."""
    scheme, sep, rest = url.partition("://")
    if not sep or f"{scheme}+pool" not in db_url.schemes:
        return url
    if scheme.startswith("sqlite") and rest.strip("/") in ("", ":memory:"):  # each connection its own database
        return url
    return f"{scheme}+pool://{rest}"


def _forget_connections_in_child():
    """A forked child must not use its parent's pooled connections (a shared SQLite handle or socket)."""
    if isinstance(db.obj, PooledDatabase):
        db.obj.dispose()


os.register_at_fork(after_in_child=_forget_connections_in_child)


def connect_database(url):
    """The database named by ``url`` (through a connection pool), with the project's SQLite pragmas."""
    url = pooled_url(url)
    kwargs = {}
    if url.partition("://")[0].endswith("+pool"):
        kwargs.update(max_connections=None, stale_timeout=POOL_STALE_SECONDS)
    if url.startswith("sqlite"):
        kwargs.update(pragmas=SQLITE_PRAGMAS, check_same_thread=False)
    return connect(url, **kwargs)


def open_database(url):
    """Connect the proxy to the database named by ``url``."""
    database = connect_database(url)
    db.initialize(database)
    from portal import live

    live.attach(database)  # open pages hear of a change after its commit
    return database


def migrate_url(url):
    """Apply the pending migrations to the database named by ``url``; returns the steps applied."""
    database = connect_database(url)
    try:
        return migrations.migrate(database)
    finally:
        if isinstance(database, PooledDatabase):
            database.close_all()


def init_app(app, check_schema=True):
    database = open_database(app.config["DATABASE_URL"])
    if check_schema:
        migrations.require_current(database)
    if isinstance(database, PooledDatabase):
        database.close_idle()  # nothing opened at start is kept into a fork (gunicorn, the RQ scheduler)

    @app.before_request
    def _connect():
        db.connect(reuse_if_open=True)

    @app.teardown_appcontext
    def _close(exc):
        if not db.is_closed():
            db.close()
