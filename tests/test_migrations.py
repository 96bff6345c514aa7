"""Schema migrations: head is the schema the models declare, an old database
upgrades without losing a row, and nothing starts on a schema not migrated.

Each test gets databases of its own (SQLite files, or databases on the
PostgreSQL cluster of ``TEST_DATABASE_URL``): ``make test-postgres`` runs
them there too.
"""
import datetime
import os
import subprocess
import sys
import uuid

import pytest

from portal.timeutil import utcnow
from peewee import CharField
from playhouse.migrate import migrate as run_operations

from portal import create_app, migrations
from portal.database import connect_database
from portal.extensions import db
from portal.migrations import m0001_initial
from portal.models import ALL_MODELS, Subaccount
from tests.conftest import portal_config

pytestmark = pytest.mark.schema

POSTGRES_URL = os.environ.get("TEST_DATABASE_URL", "")
ON_POSTGRES = POSTGRES_URL.startswith("postgres")


# ---------------------------------------------------------------- databases
@pytest.fixture
def new_database_url(tmp_path):
    """Makes empty databases of the suite's dialect; drops them afterwards."""
    made = []

    def make():
        name = f"migr_{uuid.uuid4().hex[:12]}"
        if not ON_POSTGRES:
            return f"sqlite:///{tmp_path}/{name}.db"
        _admin_sql(f"CREATE DATABASE {name}")
        made.append(name)
        return POSTGRES_URL.rsplit("/", 1)[0] + "/" + name

    yield make
    for name in made:
        _admin_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _admin_sql(statement):
    import psycopg2

    conn = psycopg2.connect(POSTGRES_URL)
    conn.autocommit = True
    try:
        conn.cursor().execute(statement)
    finally:
        conn.close()


@pytest.fixture
def open_database(new_database_url):
    """Opens a new empty database the way the portal does; closes them afterwards."""
    opened = []

    def make():
        database = connect_database(new_database_url())
        opened.append(database)
        return database

    yield make
    for database in opened:
        if hasattr(database, "close_all"):
            database.close_all()
        elif not database.is_closed():
            database.close()


# ---------------------------------------------------------------- the schema as the database reports it
def schema(database):
    """Tables, columns, indexes, foreign keys and constraint DDL, as introspection reports them."""
    with database.connection_context():
        tables = {}
        for table in sorted(database.get_tables()):
            if table == migrations.AppliedMigration._meta.table_name:
                continue
            tables[table] = {
                "columns": sorted((c.name, c.data_type, c.null, c.primary_key, c.default)
                                  for c in database.get_columns(table)),
                "indexes": sorted((i.name, tuple(i.columns), i.unique) for i in database.get_indexes(table)),
                "foreign_keys": sorted((f.column, f.dest_table, f.dest_column)
                                       for f in database.get_foreign_keys(table)),
                "ddl": _constraint_ddl(database, table),
            }
        return tables


def _constraint_ddl(database, table):
    """What introspection leaves out (ON DELETE actions, CHECKs): the DDL itself."""
    if ON_POSTGRES:
        rows = database.execute_sql(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = %s::regclass",
            (f'"{table}"',)).fetchall()
        return sorted(rows)
    rows = database.execute_sql("SELECT type, name, sql FROM sqlite_master WHERE tbl_name = ?", (table,)).fetchall()
    return sorted(rows, key=lambda row: (row[0], row[1]))


def test_migrating_to_head_gives_exactly_the_schema_the_models_declare(open_database):
    migrated = open_database()
    migrations.migrate(migrated)
    declared = open_database()
    with declared.connection_context(), declared.bind_ctx(ALL_MODELS):
        declared.create_tables(ALL_MODELS)

    got, want = schema(migrated), schema(declared)
    assert sorted(got) == sorted(want), "tables differ: add a migration for the model change"
    for table in want:
        assert got[table] == want[table], f"{table} differs from its model: add a migration for the change"


# ---------------------------------------------------------------- upgrading keeps every row
def _fill_at_migration_1(database, per_table=3):
    """``per_table`` rows in every table of migration 1, every column set, row n pointing at row n."""
    when = datetime.datetime(2026, 3, 4, 9, 30)
    with database.bind_ctx(m0001_initial.TABLES):
        for model in m0001_initial.TABLES:
            for n in range(1, per_table + 1):
                row = {}
                for field in model._meta.sorted_fields:
                    if field.primary_key:
                        continue
                    kind = field.field_type
                    if kind == "INT" and hasattr(field, "rel_model"):
                        row[field.name] = (n - 1 or None) if field.rel_model is model else n
                    elif kind == "BOOL":
                        row[field.name] = n % 2 == 0
                    elif kind == "INT":
                        row[field.name] = n * 7
                    elif kind == "DATETIME":
                        row[field.name] = when + datetime.timedelta(days=n)
                    else:
                        row[field.name] = f"{model._meta.table_name}.{field.name} #{n}"
                model.insert(**row).execute()


def _rows(database):
    """Every row of every migration-1 table, in id order, with migration 1's columns."""
    with database.connection_context(), database.bind_ctx(m0001_initial.TABLES):
        return {model._meta.table_name: list(model.select().order_by(model.id).tuples())
                for model in m0001_initial.TABLES}


def _add_appointment_location(migrator, database):
    # A NOT NULL column with a default: on SQLite playhouse rebuilds the whole
    # table, the kind of step that loses rows if foreign keys cascade.
    run_operations(migrator.add_column("appointment", "location", CharField(default="")))


def test_a_database_at_migration_1_upgrades_to_head_without_losing_a_row(open_database):
    head = migrations.MIGRATIONS
    later = migrations.Migration(head[-1].number + 1, "test_appointment_location", _add_appointment_location)
    database = open_database()
    assert [m.number for m in migrations.migrate(database, head[:1])] == [1]
    with database.connection_context():
        _fill_at_migration_1(database)
    before = _rows(database)
    assert all(len(rows) == 3 for rows in before.values())

    applied = migrations.migrate(database, head + [later])

    assert [m.number for m in applied] == [m.number for m in head[1:]] + [later.number]
    assert _rows(database) == before
    with database.connection_context():
        locations = database.execute_sql("SELECT location FROM appointment ORDER BY id").fetchall()
        assert [row[0] for row in locations] == ["", "", ""]
        assert migrations.applied_numbers(database) == {m.number for m in head} | {later.number}


def test_appointments_imported_before_meeting_details_upgrade_with_none_and_keep_every_row(open_database):
    """Migration appointment_details: an appointment imported earlier keeps its row and reads as "no
    location, no hosts known" (empty, not NULL), so its page shows neither until Calendly tells again."""
    step = next(i for i, m in enumerate(migrations.MIGRATIONS) if m.name == "appointment_details")
    database = open_database()
    migrations.migrate(database, migrations.MIGRATIONS[:1])
    with database.connection_context():
        _fill_at_migration_1(database)
    migrations.migrate(database, migrations.MIGRATIONS[:step])
    before = _rows(database)

    applied = migrations.migrate(database)

    assert [m.name for m in applied][:1] == ["appointment_details"]
    assert _rows(database) == before
    with database.connection_context():
        details = database.execute_sql(
            "SELECT location_kind, location_text, join_url, calendly_hosts FROM appointment ORDER BY id").fetchall()
    assert [tuple(row) for row in details] == [("", "", "", "")] * 3


def test_migrate_twice_applies_nothing_the_second_time(open_database):
    database = open_database()
    assert [m.label for m in migrations.migrate(database)] == [m.label for m in migrations.MIGRATIONS]
    assert migrations.migrate(database) == []
    migrations.require_current(database)


def test_a_database_migrated_before_numbered_steps_is_recorded_at_migration_1(open_database):
    """The portal used to create the tables itself and count versions in ``schema_version``."""
    database = open_database()
    # Its tables were the ones migration 1 froze (not today's models, which later steps have changed).
    with database.connection_context(), database.bind_ctx(m0001_initial.TABLES):
        database.create_tables(m0001_initial.TABLES)
        database.execute_sql("CREATE TABLE schema_version (id INTEGER PRIMARY KEY, version INTEGER NOT NULL)")
        database.execute_sql("INSERT INTO schema_version (id, version) VALUES (1, 1)")
        m0001_initial.Subaccount.create(name="Kept Dental", reflect_cancellations=False, created_at=utcnow())

    applied = migrations.migrate(database)

    assert [m.number for m in applied] == [m.number for m in migrations.MIGRATIONS[1:]]
    with database.connection_context(), database.bind_ctx(ALL_MODELS):
        assert migrations.applied_numbers(database) == {m.number for m in migrations.MIGRATIONS}
        assert not database.table_exists("schema_version")
        assert [s.name for s in Subaccount.select()] == ["Kept Dental"]


# ---------------------------------------------------------------- what an operator sees
def test_the_portal_refuses_to_start_on_a_database_not_migrated(stack, new_database_url):
    previous = db.obj
    try:
        with pytest.raises(migrations.SchemaNotCurrent) as refused:
            create_app(portal_config(stack, DATABASE_URL=new_database_url()))
    finally:
        db.initialize(previous)
    assert "0001 initial" in str(refused.value)
    assert "flask --app wsgi admin migrate" in str(refused.value)


def _admin(stack, database_url, *args):
    env = dict(stack["env"], DATABASE_URL=database_url)
    return subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "admin", *args], env=env,
                          capture_output=True, text=True, timeout=120)


def test_admin_migrate_applies_the_pending_steps_then_nothing(stack, new_database_url):
    url = new_database_url()
    refused = _admin(stack, url, "create-subaccount", "Acme Dental")
    assert refused.returncode == 1
    assert "Run `flask --app wsgi admin migrate` first." in refused.stderr

    first = _admin(stack, url, "migrate")
    assert first.returncode == 0, first.stderr
    assert "Applied migration 0001 initial" in first.stdout

    again = _admin(stack, url, "migrate")
    assert again.returncode == 0, again.stderr
    assert "Nothing to apply" in again.stdout and "Applied" not in again.stdout

    created = _admin(stack, url, "create-subaccount", "Acme Dental")
    assert created.returncode == 0, created.stderr
    assert "Created: subaccount Acme Dental" in created.stdout
