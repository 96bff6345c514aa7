"""Migration 9: what the appointment page shows of a Calendly meeting (issue 16 item 7): the location
kind, its text (an address, never a phone number) and join link, and the Calendly hosts."""
from peewee import CharField, TextField
from playhouse.migrate import migrate

from portal.migrations.m0001_initial import Appointment


def up(migrator, database):
    table = Appointment._meta.table_name
    migrate(migrator.add_column(table, "location_kind", CharField(default="")),
            migrator.add_column(table, "location_text", TextField(default="")),
            migrator.add_column(table, "join_url", TextField(default="")),
            migrator.add_column(table, "calendly_hosts", TextField(default="")))
