"""The agency's subaccounts with their counts, and naming them (issue 15)."""
from dataclasses import dataclass

from peewee import fn

from portal.models import CalendlyConnection, Invitation, Membership, Status, Subaccount
from portal.models.audit import record

NAME_MAX = 120


class NameRefused(Exception):
    def __init__(self, message):
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class SubaccountRow:
    subaccount: Subaccount
    members: int
    admins: int
    connections: int  # live Calendly connections
    invitations: int  # pending


def _counts(query, key):
    return dict(query.group_by(key).tuples())


def overview():
    """Every subaccount by name with its member, admin, connection and pending invitation counts."""
    members = _counts(Membership.select(Membership.subaccount, fn.COUNT(Membership.id)), Membership.subaccount)
    admins = _counts(Membership.select(Membership.subaccount, fn.COUNT(Membership.id))
                     .where(Membership.role == "admin"), Membership.subaccount)
    connections = _counts(CalendlyConnection.select(CalendlyConnection.subaccount, fn.COUNT(CalendlyConnection.id))
                          .where(CalendlyConnection.status != Status.DISCONNECTED), CalendlyConnection.subaccount)
    invitations = _counts(Invitation.select(Invitation.subaccount, fn.COUNT(Invitation.id)).where(
        Invitation.accepted_at.is_null() & Invitation.revoked_at.is_null()), Invitation.subaccount)
    return [SubaccountRow(s, members.get(s.id, 0), admins.get(s.id, 0), connections.get(s.id, 0),
                          invitations.get(s.id, 0))
            for s in Subaccount.select().order_by(fn.LOWER(Subaccount.name))]


def clean_name(name, keep_id=None):
    name = " ".join((name or "").split())
    if not name:
        raise NameRefused("Enter a name for the subaccount.")
    if len(name) > NAME_MAX:
        raise NameRefused(f"Use at most {NAME_MAX} characters for the name.")
    clash = Subaccount.select().where(fn.LOWER(Subaccount.name) == name.lower())
    if keep_id is not None:
        clash = clash.where(Subaccount.id != keep_id)
    if clash.exists():
        raise NameRefused(f"A subaccount called {name} already exists.")
    return name


def create(name, actor):
    sub = Subaccount.create(name=clean_name(name))
    record("subaccount.create", actor=actor, subaccount=sub.id, target=sub.name)
    return sub


def rename(sub, name, actor):
    old, new = sub.name, clean_name(name, keep_id=sub.id)
    Subaccount.update(name=new).where(Subaccount.id == sub.id).execute()
    record("subaccount.rename", actor=actor, subaccount=sub.id, target=new, detail=f"Was {old}")
    return new


