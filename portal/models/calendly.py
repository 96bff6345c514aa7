"""A Calendly connection and the history of its calendar selection (SPEC C, W, S1)."""
from enum import StrEnum

from peewee import (
    BooleanField,
    CharField,
    DateTimeField,
    ForeignKeyField,
    IntegerField,
    TextField,
)

from portal.crypto import EncryptedTextField
from portal.models.base import BaseModel
from portal.models.tenancy import Subaccount, User
from portal.timeutil import utcnow


class Status(StrEnum):
    """A connection's status: the visible statuses of SPEC S1, plus ``pending`` before the first Save."""

    PENDING = "pending"  # OAuth done, calendars not chosen yet
    IMPORTING = "importing"
    CONNECTED = "connected"
    RECONNECT_NEEDED = "reconnect_needed"
    PLAN_NOT_SUPPORTED = "plan_not_supported"
    ERROR = "error"
    DISCONNECTED = "disconnected"



# Set after the class: inside an enum's body they would become members.
Status.LABELS = {
    Status.PENDING: "Setup not finished",
    Status.IMPORTING: "Importing",
    Status.CONNECTED: "Connected",
    Status.RECONNECT_NEEDED: "Reconnect needed",
    Status.PLAN_NOT_SUPPORTED: "Plan not supported",
    Status.ERROR: "Error",
    Status.DISCONNECTED: "Disconnected",
}
# Statuses in which bookings are applied.
Status.SYNCING = (Status.IMPORTING, Status.CONNECTED, Status.ERROR)


class CalendlyConnection(BaseModel):
    """One portal user's Calendly account in one subaccount.

    C3: one live connection per (subaccount, user); C4: a Calendly user URI is
    held by one portal user only. Both are checked by
    ``portal.connections.service`` because "live" excludes disconnected rows.
    """

    subaccount = ForeignKeyField(Subaccount, backref="calendly_connections", on_delete="CASCADE")
    user = ForeignKeyField(User, backref="calendly_connections", on_delete="CASCADE")
    calendly_user_uri = CharField(index=True)
    calendly_email = CharField(default="")
    calendly_name = CharField(default="")
    organization_uri = CharField(default="")
    plan = CharField(default="")
    stage = CharField(default="")

    access_token = EncryptedTextField(null=True)
    refresh_token = EncryptedTextField(null=True)
    token_expires_at = DateTimeField(null=True)

    status = CharField(default=Status.PENDING, index=True)
    last_error = TextField(null=True)
    failure_count = IntegerField(default=0)
    backfill_total = IntegerField(default=0)
    backfill_done = IntegerField(default=0)

    # Webhooks (C7): the callback path carries ``webhook_token`` so each
    # subscription has its own URL; deliveries are verified with the key.
    webhook_token = CharField(unique=True)
    webhook_subscription_uri = CharField(null=True)
    webhook_state = CharField(null=True)  # as Calendly last reported it
    signing_key = EncryptedTextField(null=True)

    created_at = DateTimeField(default=utcnow)
    connected_at = DateTimeField(null=True)  # the first Save: start of W2
    disconnected_at = DateTimeField(null=True)
    last_webhook_at = DateTimeField(null=True)
    last_reconciled_at = DateTimeField(null=True)
    backfilled_at = DateTimeField(null=True)  # when the W2 backfill finished
    # "Historical appointments from the backfill start workflows": off (NULL) unless ticked (issue 14).
    backfill_starts_workflows = BooleanField(null=True, default=False)
    backfill_imported = IntegerField(default=0)  # appointments this connection had when it finished (Last sync)

    @property
    def status_label(self):
        return Status.LABELS.get(self.status, self.status)

    @property
    def is_live(self):
        return self.status != Status.DISCONNECTED

    @property
    def is_syncing(self):
        return self.status in Status.SYNCING

    def current_selections(self):
        return self.selections.where(CalendarSelection.selected_until.is_null()).order_by(
            CalendarSelection.name
        )


class CalendarSelection(BaseModel):
    """One period during which a calendar (Calendly event type) was selected.

    The sync windows (SPEC W2-W4) are computed from these rows: a period is
    open while ``selected_until`` is null; ``ended_with`` records the Keep or
    Delete answer given when it was closed; ``includes_backfill`` marks the
    periods that began at the first Save and so carry the W2 backfill window.
    """

    connection = ForeignKeyField(CalendlyConnection, backref="selections", on_delete="CASCADE")
    event_type_uri = CharField(index=True)
    name = CharField()
    shared = BooleanField(default=False)
    pooling_type = CharField(null=True)
    selected_from = DateTimeField(default=utcnow)
    selected_until = DateTimeField(null=True)
    ended_with = CharField(null=True)  # "keep" | "delete"
    includes_backfill = BooleanField(default=False)
    # Set while Calendly has the event type deleted or inactive (event_type.* or reconciliation).
    deleted_in_calendly_at = DateTimeField(null=True)
    scheduling_url = CharField(default="")  # the event type's booking page, as Calendly gave it (issue 16)

    class Meta:
        indexes = ((("connection", "event_type_uri", "selected_from"), True),)
