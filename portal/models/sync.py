"""The webhook inbox, sync decisions (for the support trace) and background tasks."""
from enum import StrEnum

from peewee import (
    CharField,
    DateTimeField,
    ForeignKeyField,
    IntegerField,
    TextField,
)

from portal.models.base import BaseModel
from portal.models.calendly import CalendlyConnection
from portal.models.tenancy import Subaccount, User
from portal.timeutil import utcnow


class DeliveryState(StrEnum):
    """Where a webhook delivery stands in the inbox."""

    RECEIVED = "received"  # stored, not yet handed to a worker
    QUEUED = "queued"  # enqueued in RQ
    APPLIED = "applied"  # decision taken (imported or skipped)
    REJECTED = "rejected"  # malformed or unverifiable: recorded, never applied
    FAILED = "failed"  # apply raised; retried by RQ and the sweeper
    DUPLICATE = "duplicate"  # same body as an earlier delivery: acknowledged, not applied again
    SKIPPED = "skipped"  # verified, but an event the portal does not import


DeliveryState.PENDING = (DeliveryState.RECEIVED, DeliveryState.QUEUED)  # after the class: not a member


class WebhookDelivery(BaseModel):
    """The durable inbox: every delivery is stored before it is acknowledged."""

    connection = ForeignKeyField(CalendlyConnection, null=True, backref="deliveries", on_delete="SET NULL")
    webhook_token = CharField(default="")
    received_at = DateTimeField(default=utcnow, index=True)
    headers = TextField(default="{}")  # JSON, signature header included
    body = TextField(default="")
    event = CharField(default="")
    invitee_uri = CharField(null=True, index=True)
    state = CharField(default=DeliveryState.RECEIVED)
    error = TextField(null=True)
    attempts = IntegerField(default=0)
    applied_at = DateTimeField(null=True)
    body_sha256 = CharField(null=True)  # replay detection (same body, same connection)

    class Meta:
        indexes = (
            (("state", "received_at"), False),
            (("connection", "body_sha256"), False),
            (("connection", "received_at"), False),  # support console: latest deliveries
        )


class Outcome(StrEnum):
    """What a sync decision did with a booking."""

    IMPORTED = "imported"
    SKIPPED = "skipped"
    UPDATED = "updated"  # E4 cancellation or reschedule reflected
    UNCHANGED = "unchanged"  # E4 off: a cancellation noted, the appointment left as it was


class SkipReason(StrEnum):
    """The skip reasons the support console counts (SPEC S2)."""

    NOT_SELECTED = "calendar_not_selected"
    OUTSIDE_WINDOW = "outside_sync_window"
    DUPLICATE = "duplicate"
    PLAN = "plan"
    ERROR = "error"
    DISCONNECTED = "disconnected"


class SyncDecision(BaseModel):
    """One decision about one booking through one connection (S2 trace)."""

    subaccount = ForeignKeyField(Subaccount, null=True, backref="sync_decisions", on_delete="CASCADE")
    connection = ForeignKeyField(CalendlyConnection, null=True, backref="decisions", on_delete="SET NULL")
    delivery = ForeignKeyField(WebhookDelivery, null=True, backref="decisions", on_delete="SET NULL")
    via = CharField(default="webhook")  # webhook | backfill | reconcile
    invitee_uri = CharField(null=True, index=True)
    event_uri = CharField(null=True, index=True)
    event_type_uri = CharField(null=True)
    invitee_email = CharField(null=True, index=True)
    outcome = CharField()
    reason = CharField(null=True)  # a SkipReason for skipped outcomes
    rule = CharField(default="")  # the SPEC rule id, e.g. "W4"
    detail = TextField(default="")
    at = DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("connection", "at"), False),)


class TaskState(StrEnum):
    """Where a background task (a calendar's deletion, D5) stands."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    STOPPED = "stopped"  # D4: consent withdrawn meanwhile


TaskState.ACTIVE = (TaskState.QUEUED, TaskState.RUNNING)  # after the class: not a member
TaskState.ENDED = (TaskState.DONE, TaskState.STOPPED)


class Task(BaseModel):
    """A user-visible background job and its progress (backfill, deletion)."""

    subaccount = ForeignKeyField(Subaccount, null=True, backref="tasks", on_delete="CASCADE")
    connection = ForeignKeyField(CalendlyConnection, null=True, backref="tasks", on_delete="SET NULL")
    kind = CharField()  # backfill | purge_calendar | disconnect
    description = CharField(default="")
    event_type_uri = CharField(null=True)  # the calendar a purge_calendar task deletes from (D5)
    rq_job_id = CharField(null=True)
    state = CharField(default=TaskState.QUEUED)  # a TaskState
    total = IntegerField(default=0)
    done = IntegerField(default=0)
    error = TextField(null=True)
    requested_by = ForeignKeyField(User, null=True, on_delete="SET NULL")
    created_at = DateTimeField(default=utcnow)
    finished_at = DateTimeField(null=True)

    @property
    def percent(self):
        if not self.total:
            return 100 if self.state == TaskState.DONE else 0
        return min(100, int(self.done * 100 / self.total))
