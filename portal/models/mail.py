"""Email: the outbox, contacts' do-not-disturb, connection alert episodes, used links."""
from enum import StrEnum

from peewee import BooleanField, CharField, DateTimeField, ForeignKeyField, IntegerField, TextField

from portal.models.base import BaseModel
from portal.models.calendly import CalendlyConnection
from portal.models.crm import Contact
from portal.models.tenancy import Subaccount
from portal.timeutil import utcnow


class MailState(StrEnum):
    QUEUED = "queued"
    SENDING = "sending"  # claimed by one worker; never handed to SMTP twice
    SENT = "sent"
    FAILED = "failed"


MAIL_STATE_LABELS = {MailState.QUEUED: "Queued", MailState.SENDING: "Sending", MailState.SENT: "Sent",
                     MailState.FAILED: "Failed"}


class OutboundEmail(BaseModel):
    """One email as it was (or will be) handed to SMTP, with its state: "did it go out?"."""

    subaccount = ForeignKeyField(Subaccount, null=True, backref="outbound_emails", on_delete="CASCADE")
    kind = CharField()  # e.g. "connection_alert", "password_reset", "contact"
    contact = ForeignKeyField(Contact, null=True, backref="emails", on_delete="SET NULL")
    sender_name = CharField(default="")
    recipient = CharField()
    recipient_name = CharField(default="")
    subject = CharField(max_length=998)
    text_body = TextField()
    html_body = TextField()
    extra_headers = TextField(default="{}")  # JSON: List-Unsubscribe and the like
    message_id = CharField(unique=True)
    # A sign-in or reset link: its body is not shown on the Sent emails page and is blanked once sent.
    sensitive = BooleanField(default=False)
    state = CharField(default=MailState.QUEUED)
    attempts = IntegerField(default=0)
    error = TextField(null=True)
    created_at = DateTimeField(default=utcnow)
    claimed_at = DateTimeField(null=True)
    sent_at = DateTimeField(null=True)

    class Meta:
        indexes = (
            (("subaccount", "id"), False),
            (("state", "created_at"), False),
            (("recipient", "kind", "created_at"), False),
        )

    @property
    def state_label(self):
        return MAIL_STATE_LABELS.get(self.state, self.state)


class DoNotDisturb(BaseModel):
    """A contact who must not be emailed (DND: email), e.g. after unsubscribing."""

    contact = ForeignKeyField(Contact, backref="dnd", on_delete="CASCADE")
    channel = CharField(default="email")
    reason = CharField(default="unsubscribed")
    at = DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("contact", "channel"), True),)


class ConnectionAlert(BaseModel):
    """The alert episode of one connection: opened once per breakage, closed once on recovery (S1)."""

    connection = ForeignKeyField(CalendlyConnection, unique=True, backref="alert", on_delete="CASCADE")
    episode_status = CharField(null=True)  # the status that opened the episode; null when none is open
    opened_at = DateTimeField(null=True)
    closed_at = DateTimeField(null=True)
    alerts_sent = IntegerField(default=0)


class UsedLink(BaseModel):
    """Nonces of single-use signed links (password reset, invitations) once they were used."""

    purpose = CharField()
    nonce = CharField(unique=True)
    used_at = DateTimeField(default=utcnow)
