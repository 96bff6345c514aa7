"""Migration 6: the subaccount's sender name (issue 13, item 3): the From display name of its email to
contacts and of its workflows' email; empty means the subaccount's name."""
from peewee import CharField
from playhouse.migrate import migrate

from portal.migrations.m0001_initial import Subaccount


def up(migrator, database):
    migrate(migrator.add_column(Subaccount._meta.table_name, "email_sender_name", CharField(default="")))
