"""The rows of the Team page: each member with their role, last sign-in and Calendly status."""
from dataclasses import dataclass

from peewee import fn

from portal.models import ROLES, CalendlyConnection, Membership, Status, User
from portal.models.audit import record
from portal.pipeline import member_removal
from portal.sync.apply import write_transaction


@dataclass(frozen=True)
class MemberRow:
    membership: Membership
    user: User
    connection: CalendlyConnection | None

    @property
    def calendly_status(self):
        return self.connection.status_label if self.connection else "Not connected"


def roster(subaccount_id):
    """The subaccount's members by name, each with their live Calendly connection here, if any."""
    rows = list(Membership.select(Membership, User).join(User).where(Membership.subaccount == subaccount_id)
                .order_by(fn.LOWER(User.name), User.email))
    connections = {c.user_id: c for c in CalendlyConnection.select().where(
        (CalendlyConnection.subaccount == subaccount_id) & (CalendlyConnection.status != Status.DISCONNECTED))}
    return [MemberRow(m, m.user, connections.get(m.user_id)) for m in rows]


LAST_ADMIN_ROLE = "{name} is the last admin of {sub}: make another member admin before changing their role."


def change_role(membership, role, admin):
    """Make the member ``role`` ("admin" or "user"); the last admin stays admin. Returns the message."""
    member, sub = membership.user, membership.subaccount
    if role not in ROLES:
        raise member_removal.Refused("Choose Admin or User.")
    if role == membership.role:
        return f"{member.display_name} is already {role}."
    with write_transaction():
        if role != "admin" and member_removal.is_last_admin(membership):
            raise member_removal.Refused(LAST_ADMIN_ROLE.format(name=member.display_name, sub=sub.name))
        Membership.update(role=role).where(Membership.id == membership.id).execute()
        record("member.role", actor=admin, subaccount=sub.id, target=member.email,
               detail=f"{membership.role} → {role}")
    return f"{member.display_name} is now {role}."
