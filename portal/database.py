"""Opening the database and migrating its schema.

SQLite by default, PostgreSQL when ``DATABASE_URL`` names one (SPEC R1, R3).
Migrations are numbered functions run once each, in order, at start; their
number is kept in ``schema_version``. Later migrations use
``playhouse.migrate`` to alter tables in place.
"""
import os

from peewee import IntegerField, Model
from playhouse import db_url
from playhouse.db_url import connect
from playhouse.pool import PooledDatabase

from portal.extensions import db
from portal.models import ALL_MODELS

SQLITE_PRAGMAS = {
    "journal_mode": "wal",
    "busy_timeout": 10000,
    "foreign_keys": 1,
    "synchronous": "normal",
    "cache_size": -32000,
}


class SchemaVersion(Model):
    version = IntegerField()

    class Meta:
        database = db
        table_name = "schema_version"


def _initial_schema(database):
    database.create_tables(ALL_MODELS, safe=True)


# Append new migrations; never edit one that has shipped.
MIGRATIONS = [
    _initial_schema,
]


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


def open_database(url):
    """Connect the proxy to the database named by ``url`` (through a connection pool)."""
    url = pooled_url(url)
    kwargs = {}
    if url.partition("://")[0].endswith("+pool"):
        kwargs.update(max_connections=None, stale_timeout=POOL_STALE_SECONDS)
    if url.startswith("sqlite"):
        kwargs.update(pragmas=SQLITE_PRAGMAS, check_same_thread=False)
    database = connect(url, **kwargs)
    db.initialize(database)
    return database


def migrate():
    """Run every migration not yet applied; safe to call from each process."""
    with db.connection_context():
        with db.atomic():
            db.create_tables([SchemaVersion], safe=True)
            row = SchemaVersion.select().first()
            current = row.version if row else 0
            for number, step in enumerate(MIGRATIONS, start=1):
                if number > current:
                    step(db.obj)
            if row is None:
                SchemaVersion.create(version=len(MIGRATIONS))
            elif current < len(MIGRATIONS):
                row.version = len(MIGRATIONS)
                row.save()


def init_app(app):
    database = open_database(app.config["DATABASE_URL"])
    migrate()
    if isinstance(database, PooledDatabase):
        database.close_idle()  # nothing opened at start is kept into a fork (gunicorn, the RQ scheduler)

    @app.before_request
    def _connect():
        db.connect(reuse_if_open=True)

    @app.teardown_appcontext
    def _close(exc):
        if not db.is_closed():
            db.close()
