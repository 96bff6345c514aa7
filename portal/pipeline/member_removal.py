"""An admin removes a member from a subaccount: the Calendly hand-over (issue 15; SPEC D3, D4, O2, O3, T2).

``plan`` says what removing the member would do (the confirmation page);
``remove`` does it:

1. their live Calendly connection here is disconnected with the Keep /
   Delete answer the admin gives on their behalf — the same Disconnect as
   their own (``portal.pipeline.disconnect``: webhook subscription deleted,
   tokens revoked, answers recorded as their D4 votes, purges started);
2. the appointments they owned that stay change owner: a shared calendar's
   are drawn again among the members who have it selected (O2), the others
   go to the member the admin picked; each records why;
3. the contacts concerned get their assigned user recomputed (O3);
4. the membership is deleted, so the member loses the subaccount on their
   next request; a user left with no subaccount is signed out everywhere;
5. it is all in the audit log.
"""
from dataclasses import dataclass, field

from peewee import fn

from portal import live
from portal.models import (
    Appointment,
    AppointmentGuest,
    CalendlyConnection,
    Contact,
    Membership,
    Origin,
    Status,
    User,
)
from portal.models.audit import record
from portal.pipeline import disconnect
from portal.pipeline.answers import CHOICES
from portal.sync import deletion, events, ownership
from portal.sync.apply import write_transaction


class Refused(Exception):
    """Removing this member (or changing their role) is not allowed; ``message`` says why, in the admin's words."""

    def __init__(self, message):
        super().__init__(message)
        self.message = message


LAST_ADMIN = "{name} is the last admin of {sub}: make another member admin first."
PICK_MEMBER = "Choose the member who takes over {name}'s appointments."
ANSWER_MISSING = "Choose Keep or Delete permanently for the events synced from {name}'s Calendly."


@dataclass
class RemovalPlan:
    """What removing ``membership`` would do, for the confirmation page."""

    membership: Membership
    connection: CalendlyConnection | None
    calendars: list = field(default_factory=list)  # the connection's selected calendars
    owned: int = 0  # appointments owned here
    shared_owned: int = 0  # of which from shared calendars (drawn again, O2)
    assigned_contacts: int = 0
    successors: list = field(default_factory=list)  # members who can take the appointments over

    @property
    def member(self):
        return self.membership.user

    @property
    def asks_keep_or_delete(self):
        return self.connection is not None and self.connection.connected_at is not None and bool(self.calendars)


def admin_count(subaccount_id):
    return Membership.select().where((Membership.subaccount == subaccount_id) & (Membership.role == "admin")).count()


def is_last_admin(membership):
    return membership.role == "admin" and admin_count(membership.subaccount_id) <= 1


def plan(membership):
    sub_id, user_id = membership.subaccount_id, membership.user_id
    connection = live_connection(sub_id, user_id)
    owned = Appointment.select().where((Appointment.subaccount == sub_id) & (Appointment.owner == user_id))
    return RemovalPlan(
        membership=membership,
        connection=connection,
        calendars=list(connection.current_selections()) if connection else [],
        owned=owned.count(),
        shared_owned=_shared_count(owned, sub_id),
        assigned_contacts=Contact.select().where(
            (Contact.subaccount == sub_id) & (Contact.assigned_user == user_id)).count(),
        successors=list(User.select().join(Membership).where(
            (Membership.subaccount == sub_id) & (Membership.user != user_id)).order_by(fn.LOWER(User.name), User.email)),
    )


def _shared_count(owned, sub_id):
    uris = [uri for uri, in owned.select(Appointment.event_type_uri).distinct().tuples()
            if ownership.is_shared_calendar(sub_id, uri)]
    return owned.where(Appointment.event_type_uri.in_(uris)).count() if uris else 0


def live_connection(subaccount_id, user_id):
    return CalendlyConnection.get_or_none(
        (CalendlyConnection.subaccount == subaccount_id) & (CalendlyConnection.user == user_id)
        & (CalendlyConnection.status != Status.DISCONNECTED))


def remove(membership, admin, answer, successor_id):
    """Remove the member; returns ``(category, text)`` messages. Raises ``Refused``."""
    removal = plan(membership)
    member = removal.member
    sub = membership.subaccount
    if is_last_admin(membership):
        raise Refused(LAST_ADMIN.format(name=member.display_name, sub=sub.name))
    successor = next((u for u in removal.successors if u.id == successor_id), None)
    if successor is None:
        raise Refused(PICK_MEMBER.format(name=member.display_name))
    if removal.asks_keep_or_delete and answer not in CHOICES:
        raise Refused(ANSWER_MISSING.format(name=member.display_name))

    messages = []
    if removal.connection is not None:
        messages.extend(disconnect.disconnect(removal.connection, answer, admin.id))
    reason = f"reassigned: owner removed by {admin.display_name}"
    # The assigned users this changes (O3) are the admin's doing, as their domain events say.
    with write_transaction(), events.origin_of(Origin.PERSON, f"user {admin.id}"):
        if is_last_admin(Membership.get_by_id(membership.id)):  # another admin left meanwhile
            raise Refused(LAST_ADMIN.format(name=member.display_name, sub=sub.name))
        moved, contacts = _hand_over(sub.id, member.id, successor, reason)
        # Deleting the membership is what ends the member's access here (T2 checks it on every request).
        Membership.delete().where(Membership.id == membership.id).execute()
        if not Membership.select().where(Membership.user == member.id).exists() and not member.is_support:
            member.rotate_session_token()  # no subaccount left: every session of theirs ends
        record("member.remove", actor=admin, subaccount=sub.id, target=member.email, count=moved,
               detail=(f"Removed {member.display_name}; {moved} appointments reassigned "
                       f"(others to {successor.display_name}), {len(contacts)} contacts' assigned users recomputed"
                       + (f"; Calendly disconnected with {answer}" if removal.connection else "")))
    messages.insert(0, ("success", f"{member.display_name} was removed from {sub.name}."))
    if moved:
        messages.append(("success", f"{moved} of their appointments were reassigned."))
    return messages


def _hand_over(subaccount_id, user_id, successor, reason):
    """Give the leaving member's appointments that stay to their successors (O2), then O3."""
    being_deleted = {}
    moved = 0
    contacts = set()
    owned = Appointment.select().where((Appointment.subaccount == subaccount_id) & (Appointment.owner == user_id))
    for appointment in owned.order_by(Appointment.id):
        uri = appointment.event_type_uri
        if uri is not None and uri not in being_deleted:
            being_deleted[uri] = deletion.consensus(subaccount_id, uri).agreed  # D4: a purge takes it away
        if uri is not None and being_deleted[uri]:
            continue
        owner, how = ownership.successor_for(appointment, user_id, successor)
        Appointment.update(owner=owner.id, owner_reason=f"{reason} ({how})"[:255]).where(
            Appointment.id == appointment.id).execute()
        moved += 1
        if appointment.contact_id:
            contacts.add(appointment.contact_id)
        contacts.update(g.contact_id for g in AppointmentGuest.select(AppointmentGuest.contact).where(
            AppointmentGuest.appointment == appointment.id))
    contacts.update(c.id for c in Contact.select(Contact.id).where(
        (Contact.subaccount == subaccount_id) & (Contact.assigned_user == user_id)))
    ownership.refresh_assigned_users(contacts)
    if moved:
        live.touch(subaccount_id)  # open pages show the new owners after the commit
    return moved, contacts
