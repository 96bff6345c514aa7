"""Migration 1: the schema as it stood when migrations began, frozen here.

These classes are copies of the models at that point, cut down to what
shapes the tables (types, nullability, uniqueness, indexes, foreign keys);
Python-side defaults and behaviour live in ``portal.models``. Never edit
them: a later schema change is a new numbered step.
"""
from peewee import (
    BooleanField,
    CharField,
    DateTimeField,
    ForeignKeyField,
    IntegerField,
    Model,
    TextField,
)


class Frozen(Model):
    class Meta:
        legacy_table_names = False


class Subaccount(Frozen):
    name = CharField(unique=True)
    reflect_cancellations = BooleanField()
    created_at = DateTimeField()


class User(Frozen):
    email = CharField(unique=True)
    name = CharField()
    password_hash = CharField()
    is_support = BooleanField()
    session_token = CharField()
    created_at = DateTimeField()


class Membership(Frozen):
    user = ForeignKeyField(User, on_delete="CASCADE")
    subaccount = ForeignKeyField(Subaccount, on_delete="CASCADE")
    role = CharField()

    class Meta:
        indexes = ((("user", "subaccount"), True),)


class CalendlyConnection(Frozen):
    subaccount = ForeignKeyField(Subaccount, on_delete="CASCADE")
    user = ForeignKeyField(User, on_delete="CASCADE")
    calendly_user_uri = CharField(index=True)
    calendly_email = CharField()
    calendly_name = CharField()
    organization_uri = CharField()
    plan = CharField()
    stage = CharField()
    access_token = TextField(null=True)  # Fernet-encrypted text
    refresh_token = TextField(null=True)
    token_expires_at = DateTimeField(null=True)
    status = CharField(index=True)
    last_error = TextField(null=True)
    failure_count = IntegerField()
    backfill_total = IntegerField()
    backfill_done = IntegerField()
    webhook_token = CharField(unique=True)
    webhook_subscription_uri = CharField(null=True)
    webhook_state = CharField(null=True)
    signing_key = TextField(null=True)
    created_at = DateTimeField()
    connected_at = DateTimeField(null=True)
    disconnected_at = DateTimeField(null=True)
    last_webhook_at = DateTimeField(null=True)
    last_reconciled_at = DateTimeField(null=True)
    backfilled_at = DateTimeField(null=True)


class CalendarSelection(Frozen):
    connection = ForeignKeyField(CalendlyConnection, on_delete="CASCADE")
    event_type_uri = CharField(index=True)
    name = CharField()
    shared = BooleanField()
    pooling_type = CharField(null=True)
    selected_from = DateTimeField()
    selected_until = DateTimeField(null=True)
    ended_with = CharField(null=True)
    includes_backfill = BooleanField()

    class Meta:
        indexes = ((("connection", "event_type_uri", "selected_from"), True),)


class Contact(Frozen):
    subaccount = ForeignKeyField(Subaccount, on_delete="CASCADE")
    email = CharField()
    email_normalized = CharField()
    name = CharField()
    assigned_user = ForeignKeyField(User, null=True, on_delete="SET NULL")
    created_at = DateTimeField()

    class Meta:
        indexes = (
            (("subaccount", "email_normalized"), True),
            (("subaccount", "name", "id"), False),
        )


class Appointment(Frozen):
    subaccount = ForeignKeyField(Subaccount, on_delete="CASCADE")
    source = CharField()
    title = CharField()
    start = DateTimeField()
    end = DateTimeField()
    contact = ForeignKeyField(Contact, null=True, on_delete="SET NULL")
    owner = ForeignKeyField(User, null=True, on_delete="SET NULL")
    owner_reason = CharField()
    status = CharField()
    notes = TextField()
    invitee_uri = CharField(null=True)
    event_uri = CharField(null=True, index=True)
    event_type_uri = CharField(null=True)
    calendar_name = CharField()
    booked_at = DateTimeField(null=True)
    cancelled_at = DateTimeField(null=True)
    rescheduled_to = ForeignKeyField("self", null=True, on_delete="SET NULL")
    created_at = DateTimeField()

    class Meta:
        indexes = (
            (("subaccount", "invitee_uri"), True),
            (("subaccount", "start", "id"), False),
            (("subaccount", "event_type_uri"), False),
            (("contact", "booked_at"), False),
        )


class AppointmentGuest(Frozen):
    appointment = ForeignKeyField(Appointment, on_delete="CASCADE")
    contact = ForeignKeyField(Contact, on_delete="CASCADE")

    class Meta:
        indexes = ((("appointment", "contact"), True),)


class AppointmentSource(Frozen):
    appointment = ForeignKeyField(Appointment, on_delete="CASCADE")
    connection = ForeignKeyField(CalendlyConnection, on_delete="CASCADE")
    deletion_vote = CharField(null=True)
    created_at = DateTimeField()

    class Meta:
        indexes = ((("appointment", "connection"), True),)


class WebhookDelivery(Frozen):
    connection = ForeignKeyField(CalendlyConnection, null=True, on_delete="SET NULL")
    webhook_token = CharField()
    received_at = DateTimeField(index=True)
    headers = TextField()
    body = TextField()
    event = CharField()
    invitee_uri = CharField(null=True, index=True)
    state = CharField()
    error = TextField(null=True)
    attempts = IntegerField()
    applied_at = DateTimeField(null=True)
    body_sha256 = CharField(null=True)

    class Meta:
        indexes = (
            (("state", "received_at"), False),
            (("connection", "body_sha256"), False),
            (("connection", "received_at"), False),
        )


class SyncDecision(Frozen):
    subaccount = ForeignKeyField(Subaccount, null=True, on_delete="CASCADE")
    connection = ForeignKeyField(CalendlyConnection, null=True, on_delete="SET NULL")
    delivery = ForeignKeyField(WebhookDelivery, null=True, on_delete="SET NULL")
    via = CharField()
    invitee_uri = CharField(null=True, index=True)
    event_uri = CharField(null=True, index=True)
    event_type_uri = CharField(null=True)
    invitee_email = CharField(null=True, index=True)
    outcome = CharField()
    reason = CharField(null=True)
    rule = CharField()
    detail = TextField()
    at = DateTimeField()

    class Meta:
        indexes = ((("connection", "at"), False),)


class Task(Frozen):
    subaccount = ForeignKeyField(Subaccount, null=True, on_delete="CASCADE")
    connection = ForeignKeyField(CalendlyConnection, null=True, on_delete="SET NULL")
    kind = CharField()
    description = CharField()
    event_type_uri = CharField(null=True)
    rq_job_id = CharField(null=True)
    state = CharField()
    total = IntegerField()
    done = IntegerField()
    error = TextField(null=True)
    requested_by = ForeignKeyField(User, null=True, on_delete="SET NULL")
    created_at = DateTimeField()
    finished_at = DateTimeField(null=True)


class AuditEntry(Frozen):
    subaccount = ForeignKeyField(Subaccount, null=True, on_delete="CASCADE")
    actor = ForeignKeyField(User, null=True, on_delete="SET NULL")
    action = CharField()
    target = CharField()
    count = IntegerField()
    detail = TextField()
    at = DateTimeField(index=True)


TABLES = [
    Subaccount,
    User,
    Membership,
    CalendlyConnection,
    CalendarSelection,
    Contact,
    Appointment,
    AppointmentGuest,
    AppointmentSource,
    WebhookDelivery,
    SyncDecision,
    Task,
    AuditEntry,
]


def up(migrator, database):
    with database.bind_ctx(TABLES):
        database.create_tables(TABLES)
