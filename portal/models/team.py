"""Invitations into a subaccount (issue 15): who was invited, by whom, and what became of it."""
from peewee import CharField, DateTimeField, ForeignKeyField, IntegerField

from portal.models.base import BaseModel
from portal.models.tenancy import Subaccount, User
from portal.timeutil import utcnow


class Invitation(BaseModel):
    """A pending, accepted or revoked invitation; its emailed link is signed (``portal.signed_links``).

    ``generation`` goes up on every resend and is part of the link, so only
    the latest link works; ``accepted_at`` / ``revoked_at`` end every link.
    """

    subaccount = ForeignKeyField(Subaccount, backref="invitations", on_delete="CASCADE")
    email = CharField()  # lower-cased; the link is bound to it
    name = CharField(default="")
    role = CharField(default="user")
    invited_by = ForeignKeyField(User, null=True, on_delete="SET NULL")
    generation = IntegerField(default=1)
    created_at = DateTimeField(default=utcnow)
    sent_at = DateTimeField(default=utcnow)
    accepted_at = DateTimeField(null=True)
    revoked_at = DateTimeField(null=True)

    class Meta:
        indexes = ((("subaccount", "email"), False),)

    @property
    def is_pending(self):
        return self.accepted_at is None and self.revoked_at is None
