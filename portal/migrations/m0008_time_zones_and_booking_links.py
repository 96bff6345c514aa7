"""Migration 6: time zones and the Calendars page (issue 16): each subaccount's IANA zone, a user's
optional override, and each selected calendar's Calendly booking link."""
from peewee import CharField
from playhouse.migrate import migrate

from portal.migrations.m0001_initial import CalendarSelection, Subaccount, User


def up(migrator, database):
    migrate(migrator.add_column(Subaccount._meta.table_name, "time_zone", CharField(default="UTC")),
            migrator.add_column(User._meta.table_name, "time_zone", CharField(null=True)),
            migrator.add_column(CalendarSelection._meta.table_name, "scheduling_url", CharField(default="")))
