"""Numbered schema migrations, run by ``flask --app wsgi admin migrate``.

Each ``mNNNN_<name>.py`` module here is one step: a function
``up(migrator, database)`` that changes the schema with ``playhouse.migrate``
(migration 1 creates the tables from definitions frozen inside it). The
numbers applied are rows of ``schema_migrations``. Never edit a step that has
shipped: add the next number. ``create_app`` only checks that none is pending.
"""
import importlib
import pkgutil
import re
from dataclasses import dataclass
from typing import Callable

from peewee import CharField, DateTimeField, IntegerField, Model
from playhouse.migrate import SchemaMigrator

from portal.timeutil import utcnow

MIGRATE_COMMAND = "flask --app wsgi admin migrate"
# What the portal migrated with before numbered steps: one row, the version (1 = today's migration 1).
LEGACY_VERSION_TABLE = "schema_version"


@dataclass(frozen=True)
class Migration:
    number: int
    name: str
    up: Callable

    @property
    def label(self):
        return f"{self.number:04d} {self.name}"


class SchemaNotCurrent(RuntimeError):
    """The database lacks migrations the code needs; the message says which command applies them."""


class AppliedMigration(Model):
    number = IntegerField(primary_key=True)
    name = CharField()
    applied_at = DateTimeField(default=utcnow)

    class Meta:
        table_name = "schema_migrations"


def discover():
    """The steps of this package, in number order."""
    steps = []
    for module in pkgutil.iter_modules(__path__):
        match = re.fullmatch(r"m(\d{4})_(\w+)", module.name)
        if match:
            up = importlib.import_module(f"{__name__}.{module.name}").up
            steps.append(Migration(int(match.group(1)), match.group(2), up))
    steps.sort(key=lambda m: m.number)
    if [m.number for m in steps] != list(range(1, len(steps) + 1)):
        raise RuntimeError(f"migration numbers must run 1, 2, 3, ... without gaps: {[m.label for m in steps]}")
    return steps


MIGRATIONS = discover()


def applied_numbers(database):
    """The numbers recorded as applied (none on a database never migrated)."""
    if not database.table_exists(AppliedMigration._meta.table_name):
        return set()
    with database.bind_ctx([AppliedMigration]):
        return {row.number for row in AppliedMigration.select(AppliedMigration.number)}


def pending(database, steps=None):
    done = applied_numbers(database)
    return [m for m in (MIGRATIONS if steps is None else steps) if m.number not in done]


def _adopt_legacy_version(database):
    """A database migrated the old way holds exactly migration 1's schema: record it as such."""
    if database.table_exists(AppliedMigration._meta.table_name) or not database.table_exists(LEGACY_VERSION_TABLE):
        return
    with database.atomic():
        version = database.execute_sql(f"SELECT MAX(version) FROM {LEGACY_VERSION_TABLE}").fetchone()[0] or 0
        database.create_tables([AppliedMigration])
        if version >= 1:
            AppliedMigration.create(number=1, name=MIGRATIONS[0].name)
        database.execute_sql(f"DROP TABLE {LEGACY_VERSION_TABLE}")


def migrate(database, steps=None):
    """Apply every pending step in order, each in its own transaction; returns the steps applied.

    ``database`` is a ``peewee.Database`` (not the proxy). Running it again
    applies nothing. Two processes racing here cannot both apply a step: the
    step's number is the primary key of its record, so the loser's
    transaction fails and rolls back.
    """
    steps = MIGRATIONS if steps is None else steps
    with database.connection_context(), database.bind_ctx([AppliedMigration]):
        _adopt_legacy_version(database)
        database.create_tables([AppliedMigration], safe=True)
        migrator = SchemaMigrator.from_database(database)
        done = []
        for step in pending(database, steps):
            # On SQLite this also turns foreign keys off around the step, so
            # a table rebuilt by playhouse.migrate does not cascade-delete rows.
            with migrator.migration_context():
                step.up(migrator, database)
                AppliedMigration.create(number=step.number, name=step.name)
            done.append(step)
        return done


def require_current(database, steps=None):
    """Raise ``SchemaNotCurrent`` naming the command to run if any step is pending."""
    with database.connection_context():
        missing = pending(database, steps)
    if missing:
        names = ", ".join(m.label for m in missing)
        raise SchemaNotCurrent(f"The database schema is not current (missing: {names}). Run `{MIGRATE_COMMAND}` first.")
