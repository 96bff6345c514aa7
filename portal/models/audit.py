"""The audit log (SPEC D5, S2): who did what, when, to how many."""
from peewee import CharField, DateTimeField, ForeignKeyField, IntegerField, TextField

from portal.models.base import BaseModel
from portal.models.tenancy import Subaccount, User
from portal.timeutil import utcnow


class AuditEntry(BaseModel):
    subaccount = ForeignKeyField(Subaccount, null=True, backref="audit_entries", on_delete="CASCADE")
    actor = ForeignKeyField(User, null=True, on_delete="SET NULL")
    action = CharField()  # e.g. "calendar.delete", "support.resync"
    target = CharField(default="")
    count = IntegerField(default=0)
    detail = TextField(default="")
    at = DateTimeField(default=utcnow, index=True)


def record(action, *, actor=None, subaccount=None, target="", count=0, detail=""):
    return AuditEntry.create(
        action=action, actor=actor, subaccount=subaccount, target=target, count=count, detail=detail
    )
