"""The rows of the Team page: each member with their role, last sign-in and Calendly status."""
from dataclasses import dataclass

from peewee import fn

from portal.models import CalendlyConnection, Membership, Status, User


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
