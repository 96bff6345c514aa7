"""Signed-in sessions (issue 15, My profile): one row per browser signed in, so a user sees and ends them."""
from peewee import CharField, DateTimeField, ForeignKeyField

from portal.models.base import BaseModel
from portal.models.tenancy import User
from portal.timeutil import utcnow


class UserSession(BaseModel):
    user = ForeignKeyField(User, backref="sessions", on_delete="CASCADE")
    key = CharField(unique=True)  # random, kept in the signed session cookie
    user_agent = CharField(default="")
    ip_address = CharField(default="")
    created_at = DateTimeField(default=utcnow)
    last_seen_at = DateTimeField(default=utcnow)
