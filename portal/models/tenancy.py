"""Subaccounts, users and their memberships (SPEC T1-T3)."""
from flask_login import UserMixin
from peewee import BooleanField, CharField, DateTimeField, ForeignKeyField, IntegerField
from werkzeug.security import check_password_hash, generate_password_hash

from portal.models.base import BaseModel
from portal.timeutil import utcnow

ROLES = ("admin", "user")


class Subaccount(BaseModel):
    name = CharField(unique=True)
    # SPEC E4: off by default, the seeds' behaviour.
    reflect_cancellations = BooleanField(default=False)
    created_at = DateTimeField(default=utcnow)


class User(UserMixin, BaseModel):
    email = CharField(unique=True)  # stored lower-cased
    name = CharField(default="")
    password_hash = CharField()
    is_support = BooleanField(default=False)  # agency-level support staff (T1)
    failed_signins = IntegerField(default=0)
    locked_until = DateTimeField(null=True)
    created_at = DateTimeField(default=utcnow)

    def set_password(self, password):
        # scrypt: a slow KDF (T3).
        self.password_hash = generate_password_hash(password, method="scrypt")

    def check_password(self, password):
        return check_password_hash(self.password_hash, password)

    @property
    def display_name(self):
        return self.name or self.email

    def subaccounts(self):
        return (
            Subaccount.select()
            .join(Membership)
            .where(Membership.user == self)
            .order_by(Subaccount.name)
        )

    def role_in(self, subaccount):
        m = Membership.get_or_none(user=self, subaccount=subaccount)
        return m.role if m else None


class Membership(BaseModel):
    user = ForeignKeyField(User, backref="memberships", on_delete="CASCADE")
    subaccount = ForeignKeyField(Subaccount, backref="memberships", on_delete="CASCADE")
    role = CharField(default="user")  # one of ROLES

    class Meta:
        indexes = ((("user", "subaccount"), True),)
