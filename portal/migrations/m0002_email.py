"""Migration 2: email — the outbox, contacts' do-not-disturb, connection alert episodes, used links.

Frozen copies of the tables as ``portal.models.mail`` first defined them;
the tables they point at are the minimal stand-ins (only their names matter).
"""
from peewee import BooleanField, CharField, DateTimeField, ForeignKeyField, IntegerField, Model, TextField


class Frozen(Model):
    class Meta:
        legacy_table_names = False


class Subaccount(Frozen):
    pass


class Contact(Frozen):
    pass


class CalendlyConnection(Frozen):
    pass


class OutboundEmail(Frozen):
    subaccount = ForeignKeyField(Subaccount, null=True, on_delete="CASCADE")
    kind = CharField()
    contact = ForeignKeyField(Contact, null=True, on_delete="SET NULL")
    sender_name = CharField()
    recipient = CharField()
    recipient_name = CharField()
    subject = CharField(max_length=998)
    text_body = TextField()
    html_body = TextField()
    extra_headers = TextField()
    message_id = CharField(unique=True)
    sensitive = BooleanField()
    state = CharField()
    attempts = IntegerField()
    error = TextField(null=True)
    created_at = DateTimeField()
    claimed_at = DateTimeField(null=True)
    sent_at = DateTimeField(null=True)

    class Meta:
        indexes = (
            (("subaccount", "id"), False),
            (("state", "created_at"), False),
            (("recipient", "kind", "created_at"), False),
        )


class DoNotDisturb(Frozen):
    contact = ForeignKeyField(Contact, on_delete="CASCADE")
    channel = CharField()
    reason = CharField()
    at = DateTimeField()

    class Meta:
        indexes = ((("contact", "channel"), True),)


class ConnectionAlert(Frozen):
    connection = ForeignKeyField(CalendlyConnection, unique=True, on_delete="CASCADE")
    episode_status = CharField(null=True)
    opened_at = DateTimeField(null=True)
    closed_at = DateTimeField(null=True)
    alerts_sent = IntegerField()


class UsedLink(Frozen):
    purpose = CharField()
    nonce = CharField(unique=True)
    used_at = DateTimeField()


TABLES = [OutboundEmail, DoNotDisturb, ConnectionAlert, UsedLink]


def up(migrator, database):
    with database.bind_ctx(TABLES):
        database.create_tables(TABLES)
