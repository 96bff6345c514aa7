"""Migration 6: time zones (issue 16): each subaccount's IANA zone, and a user's optional override."""
from peewee import CharField
from playhouse.migrate import migrate

from portal.migrations.m0001_initial import Subaccount, User


def up(migrator, database):
    migrate(migrator.add_column(Subaccount._meta.table_name, "time_zone", CharField(default="UTC")),
            migrator.add_column(User._meta.table_name, "time_zone", CharField(null=True)))
