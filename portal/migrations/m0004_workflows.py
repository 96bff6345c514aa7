"""Migration 4: workflows (issue 14): the domain event outbox, status history, workflows, enrolments,
tags, follow-up tasks, notifications, webhook attempts, and the connection's backfill switch. Frozen here."""
from peewee import BooleanField, CharField, DateTimeField, ForeignKeyField, IntegerField, TextField
from playhouse.migrate import migrate

from portal.migrations.m0001_initial import Appointment, CalendlyConnection, Contact, Frozen, Subaccount, User


class DomainEvent(Frozen):
    subaccount = ForeignKeyField(Subaccount, on_delete="CASCADE")
    kind = CharField()
    appointment = ForeignKeyField(Appointment, null=True, on_delete="CASCADE")
    contact = ForeignKeyField(Contact, null=True, on_delete="CASCADE")
    from_value = CharField(null=True)
    to_value = CharField(null=True)
    origin = CharField()
    cause = CharField()
    calendar = CharField()
    by_workflow = IntegerField(null=True)
    starts_workflows = BooleanField()
    created_at = DateTimeField()
    matched_at = DateTimeField(null=True, index=True)

    class Meta:
        indexes = ((("subaccount", "created_at"), False),)


class StatusChange(Frozen):
    appointment = ForeignKeyField(Appointment, on_delete="CASCADE")
    from_status = CharField()
    to_status = CharField()
    origin = CharField()
    cause = CharField()
    at = DateTimeField()


class Workflow(Frozen):
    subaccount = ForeignKeyField(Subaccount, on_delete="CASCADE")
    name = CharField()
    trigger = CharField()
    trigger_statuses = CharField()
    filter_calendar = CharField()
    filter_source = CharField()
    filter_has_tag = CharField()
    filter_not_tag = CharField()
    status = CharField()
    published_at = DateTimeField(null=True)
    created_at = DateTimeField()
    updated_at = DateTimeField()

    class Meta:
        indexes = ((("subaccount", "status"), False),)


class WorkflowStep(Frozen):
    workflow = ForeignKeyField(Workflow, on_delete="CASCADE")
    position = IntegerField()
    kind = CharField()
    config = TextField()
    secret = TextField(null=True)

    class Meta:
        indexes = ((("workflow", "position"), False),)


class Enrolment(Frozen):
    workflow = ForeignKeyField(Workflow, on_delete="CASCADE")
    subaccount = ForeignKeyField(Subaccount, on_delete="CASCADE")
    event = ForeignKeyField(DomainEvent, null=True, on_delete="CASCADE")
    contact = ForeignKeyField(Contact, null=True, on_delete="CASCADE")
    appointment = ForeignKeyField(Appointment, null=True, on_delete="SET NULL")
    active_key = CharField(null=True, unique=True)
    state = CharField()
    position = IntegerField()
    test_run = BooleanField()
    error = TextField(null=True)
    started_at = DateTimeField()
    finished_at = DateTimeField(null=True)

    class Meta:
        indexes = ((("workflow", "event"), True), (("workflow", "started_at"), False))


class StepRun(Frozen):
    enrolment = ForeignKeyField(Enrolment, on_delete="CASCADE")
    position = IntegerField()
    kind = CharField()
    state = CharField()
    detail = TextField()
    error = TextField(null=True)
    attempts = IntegerField()
    run_at = DateTimeField(null=True)
    started_at = DateTimeField()
    finished_at = DateTimeField(null=True)

    class Meta:
        indexes = ((("enrolment", "position"), True),)


class WebhookAttempt(Frozen):
    step_run = ForeignKeyField(StepRun, on_delete="CASCADE")
    url = CharField()
    status_code = IntegerField(null=True)
    duration_ms = IntegerField()
    error = TextField(null=True)
    at = DateTimeField()


class ContactTag(Frozen):
    contact = ForeignKeyField(Contact, on_delete="CASCADE")
    tag = CharField()

    class Meta:
        indexes = ((("contact", "tag"), True), (("tag",), False))


class FollowUpTask(Frozen):
    subaccount = ForeignKeyField(Subaccount, on_delete="CASCADE")
    contact = ForeignKeyField(Contact, on_delete="CASCADE")
    assignee = ForeignKeyField(User, null=True, on_delete="SET NULL")
    title = CharField()
    due_at = DateTimeField(null=True)
    done_at = DateTimeField(null=True)
    step_run = ForeignKeyField(StepRun, null=True, unique=True, on_delete="SET NULL")
    created_at = DateTimeField()


class Notification(Frozen):
    subaccount = ForeignKeyField(Subaccount, on_delete="CASCADE")
    user = ForeignKeyField(User, on_delete="CASCADE")
    text = CharField()
    link = CharField()
    read_at = DateTimeField(null=True)
    step_run = ForeignKeyField(StepRun, null=True, unique=True, on_delete="SET NULL")
    created_at = DateTimeField()

    class Meta:
        indexes = ((("user", "read_at"), False),)


TABLES = [DomainEvent, StatusChange, ContactTag, Workflow, WorkflowStep, Enrolment, StepRun, WebhookAttempt,
          FollowUpTask, Notification]


def up(migrator, database):
    with database.bind_ctx(TABLES):
        database.create_tables(TABLES)
    migrate(migrator.add_column(CalendlyConnection._meta.table_name, "backfill_starts_workflows",
                                BooleanField(null=True)))
