"""Subaccounts, users and their memberships (SPEC T1-T3)."""
import secrets

from flask_login import UserMixin
from peewee import BooleanField, CharField, DateTimeField, ForeignKeyField
from portal import passwords
from portal.models.base import BaseModel
from portal.timeutil import utcnow

ROLES = ("admin", "user")


def new_session_token():
    return secrets.token_urlsafe(24)


class Subaccount(BaseModel):
    name = CharField(unique=True)
    # SPEC E4: off by default, the seeds' behaviour.
    reflect_cancellations = BooleanField(default=False)
    created_at = DateTimeField(default=utcnow)
    # Settings > Email: the From display name of email to contacts and of workflow email ("" = the name).
    email_sender_name = CharField(default="")
    time_zone = CharField(default="UTC")  # an IANA name; pages show and take times in it (issue 16)

    @property
    def sender_name(self):
        return self.email_sender_name or self.name


class User(UserMixin, BaseModel):
    email = CharField(unique=True)  # stored lower-cased
    name = CharField(default="")
    password_hash = CharField()
    is_support = BooleanField(default=False)  # agency-level support staff (T1)
    # Part of every session cookie; rotated on sign-out to revoke them all (T3).
    session_token = CharField(default=new_session_token)
    created_at = DateTimeField(default=utcnow)
    last_signin_at = DateTimeField(null=True)  # shown on Settings > Team
    is_agency_admin = BooleanField(default=False)  # agency-level: creates and names subaccounts (issue 15)
    time_zone = CharField(null=True)  # the user's own IANA zone; None follows the subaccount's

    def get_id(self):
        return f"{self.id}:{self.session_token}"

    def rotate_session_token(self):
        self.session_token = new_session_token()
        self.save(only=[User.session_token])

    def set_password(self, password):
        # scrypt: a slow KDF (T3). The policy (passwords.problem) is applied where a person chooses one.
        self.password_hash = passwords.hash_password(password)

    def check_password(self, password):
        return passwords.verify(self, password)

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
