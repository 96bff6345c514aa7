"""Migration 3 (issue 17): Calendly's no-show on appointments; calendars deleted or inactive in Calendly."""
from peewee import DateTimeField
from playhouse.migrate import migrate


def up(migrator, database):
    migrate(
        migrator.add_column("appointment", "no_show_at", DateTimeField(null=True)),
        migrator.add_column("calendar_selection", "deleted_in_calendly_at", DateTimeField(null=True)),
    )
