"""Migration 10: the Connections row's "Last sync" after the import (issue 16): how many appointments the
connection's backfill left in the portal."""
from peewee import IntegerField
from playhouse.migrate import migrate

from portal.migrations.m0001_initial import CalendlyConnection


def up(migrator, database):
    migrate(migrator.add_column(CalendlyConnection._meta.table_name, "backfill_imported", IntegerField(default=0)))
