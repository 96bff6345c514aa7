"""Invitations into a subaccount (issue 15): the emailed link, single-use, 7 days, bound to the invited address.

The link is a ``portal.signed_links`` token carrying the invitation's id,
its address and its ``generation``: a resend makes a new link and the older
ones stop working; accepting or revoking ends them all. An invitee without
an account sets their name and password; one who has an account (in another
subaccount) signs in as that address and accepts.
"""
from flask import current_app
from peewee import fn

from portal import signed_links
from portal.extensions import db
from portal.mail import compose
from portal.mail.addresses import MailRefused, clean_address, one_line
from portal.mail.outbox import enqueue_send, queue_email
from portal.models import ROLES, Invitation, Membership, User
from portal.models.audit import record
from portal.timeutil import utcnow

PURPOSE = "invitation"


def _max_age():
    """``INVITATION_MAX_AGE_SECONDS``: 7 days unless configured."""
    return int(current_app.config["INVITATION_MAX_AGE_SECONDS"])


class InvitationRefused(Exception):
    """The invitation cannot be made or used; ``message`` says why, for the page."""

    def __init__(self, message):
        super().__init__(message)
        self.message = message


def pending(subaccount_id):
    return list(Invitation.select().where(
        (Invitation.subaccount == subaccount_id) & Invitation.accepted_at.is_null() & Invitation.revoked_at.is_null()
    ).order_by(Invitation.created_at.desc()))


def invite(subaccount, email, name, role, inviter):
    """Invite ``email`` into ``subaccount`` as ``role`` and email the link; returns the Invitation.

    Inviting an address that already has a pending invitation here sends
    that one again (with the new name and role).
    """
    try:
        email = clean_address(email, "The email").lower()
        name = one_line((name or "").strip(), "The name")[:255]
    except MailRefused as exc:
        raise InvitationRefused(str(exc)) from None
    if role not in ROLES:
        raise InvitationRefused("Choose the role: Admin or User.")
    member = (User.select().join(Membership).where(
        (fn.LOWER(User.email) == email) & (Membership.subaccount == subaccount.id)).first())
    if member is not None:
        raise InvitationRefused(f"{email} is already a member of {subaccount.name}.")
    with db.atomic():
        invitation = next((i for i in pending(subaccount.id) if i.email == email), None)
        if invitation is None:
            invitation = Invitation.create(subaccount=subaccount, email=email, name=name, role=role,
                                           invited_by=inviter)
            action = "member.invite"
        else:
            Invitation.update(name=name, role=role, generation=Invitation.generation + 1, sent_at=utcnow()).where(
                Invitation.id == invitation.id).execute()
            invitation = Invitation.get_by_id(invitation.id)
            action = "member.invite_resend"
        email_id = _queue_invitation_email(invitation, inviter)
        record(action, actor=inviter, subaccount=subaccount.id, target=email, detail=f"as {role}")
    enqueue_send(email_id)
    return invitation


def resend(invitation, inviter):
    """A new link for a pending invitation (the earlier ones stop working), valid for 7 days from now."""
    if not invitation.is_pending:
        raise InvitationRefused("This invitation is no longer pending.")
    with db.atomic():
        Invitation.update(generation=Invitation.generation + 1, sent_at=utcnow()).where(
            Invitation.id == invitation.id).execute()
        invitation = Invitation.get_by_id(invitation.id)
        email_id = _queue_invitation_email(invitation, inviter)
        record("member.invite_resend", actor=inviter, subaccount=invitation.subaccount_id, target=invitation.email)
    enqueue_send(email_id)
    return invitation


def revoke(invitation, actor):
    if not invitation.is_pending:
        raise InvitationRefused("This invitation is no longer pending.")
    Invitation.update(revoked_at=utcnow()).where(Invitation.id == invitation.id).execute()
    record("member.invite_revoke", actor=actor, subaccount=invitation.subaccount_id, target=invitation.email)


def _queue_invitation_email(invitation, inviter):
    token = signed_links.issue(PURPOSE, {"invitation": invitation.id, "email": invitation.email,
                                         "generation": invitation.generation})
    context = {"invitation": invitation, "inviter": inviter, "subaccount": invitation.subaccount,
               "url": compose.portal_url("auth.accept_invitation", token=token), "days": max(_max_age() // 86400, 1)}
    email = queue_email(
        to=invitation.email, to_name=invitation.name, kind="invitation", subaccount=invitation.subaccount_id,
        sensitive=True, enqueue=False,
        subject=f"{inviter.display_name} invited you to {invitation.subaccount.name} on Calbridge",
        text=compose.render("email/invitation.txt", **context),
        html=compose.render("email/invitation.html", **context),
    )
    return email.id


def _checked(data):
    invitation = Invitation.get_or_none(Invitation.id == data.get("invitation"))
    if invitation is None or invitation.email != data.get("email"):
        raise signed_links.LinkInvalid("This link is not valid.")
    if invitation.revoked_at is not None:
        raise signed_links.LinkUsed("This invitation was revoked.")
    if invitation.accepted_at is not None:
        raise signed_links.LinkUsed("This invitation has already been accepted.")
    if invitation.generation != data.get("generation"):
        raise signed_links.LinkUsed("This link was replaced by a newer invitation: use the latest email.")
    return invitation


def open_link(token):
    """``(invitation, existing user or None)`` for a usable link, or a ``signed_links.LinkProblem``."""
    invitation = _checked(signed_links.peek(PURPOSE, token, _max_age()))
    return invitation, User.get_or_none(User.email == invitation.email)


def accept(token, *, user=None, name="", password=None):
    """Use the link once: the existing ``user`` (signed in as the invited address) or a new account joins.

    Returns the user. A new account needs ``password`` (checked by the caller against the policy).
    """
    with db.atomic():
        invitation = _checked(signed_links.consume(PURPOSE, token, _max_age()))
        if user is None:
            if User.select().where(User.email == invitation.email).exists():
                raise InvitationRefused(f"{invitation.email} already has an account: sign in to accept.")
            user = User(email=invitation.email, name=(name or invitation.name).strip()[:255])
            user.set_password(password)
            user.save()
        elif user.email != invitation.email:
            raise InvitationRefused(f"This invitation is for {invitation.email}: sign in with that address.")
        Membership.get_or_create(user=user, subaccount=invitation.subaccount_id, defaults={"role": invitation.role})
        Invitation.update(accepted_at=utcnow()).where(Invitation.id == invitation.id).execute()
        record("member.join", actor=user, subaccount=invitation.subaccount_id, target=user.email,
               detail=f"Accepted the invitation as {invitation.role}")
    return user
