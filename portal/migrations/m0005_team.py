"""Migration 5: Settings > Team and agency admins (issue 15): invitations, each user's last sign-in, the
agency admin flag, signed-in sessions (My profile). Frozen here."""
from peewee import BooleanField, CharField, DateTimeField, ForeignKeyField, IntegerField
from playhouse.migrate import migrate

from portal.migrations.m0001_initial import Frozen, Subaccount, User


class Invitation(Frozen):
    subaccount = ForeignKeyField(Subaccount, on_delete="CASCADE")
    email = CharField()
    name = CharField()
    role = CharField()
    invited_by = ForeignKeyField(User, null=True, on_delete="SET NULL")
    generation = IntegerField()
    created_at = DateTimeField()
    sent_at = DateTimeField()
    accepted_at = DateTimeField(null=True)
    revoked_at = DateTimeField(null=True)

    class Meta:
        indexes = ((("subaccount", "email"), False),)


class UserSession(Frozen):
    user = ForeignKeyField(User, on_delete="CASCADE")
    key = CharField(unique=True)
    user_agent = CharField()
    ip_address = CharField()
    created_at = DateTimeField()
    last_seen_at = DateTimeField()


def up(migrator, database):
    with database.bind_ctx([Invitation, UserSession]):
        database.create_tables([Invitation, UserSession])
    migrate(migrator.add_column(User._meta.table_name, "last_signin_at", DateTimeField(null=True)),
            migrator.add_column(User._meta.table_name, "is_agency_admin", BooleanField(default=False)))
