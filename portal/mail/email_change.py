"""Changing one's sign-in email (issue 15, My profile): confirmed by a link sent to the new address.

The link (``portal.signed_links``, single use, ``EMAIL_CHANGE_MAX_AGE_SECONDS``)
names the user, the new address and the address it replaces: it stops
working if the account's email changed meanwhile, and the new address must
still be free when it is used.
"""
from flask import current_app

from portal import signed_links
from portal.extensions import db
from portal.mail import compose
from portal.mail.addresses import MailRefused, clean_address
from portal.mail.outbox import enqueue_send, queue_email
from portal.models import User
from portal.models.audit import record

PURPOSE = "email-change"


class ChangeRefused(Exception):
    def __init__(self, message):
        super().__init__(message)
        self.message = message


def _max_age():
    return int(current_app.config["EMAIL_CHANGE_MAX_AGE_SECONDS"])


def request_change(user, new_address):
    """Email the confirmation link to ``new_address``; returns the normalized address."""
    try:
        new = clean_address(new_address, "The new email").lower()
    except MailRefused as exc:
        raise ChangeRefused(str(exc)) from None
    if new == user.email:
        raise ChangeRefused("That is already your email.")
    if User.select().where(User.email == new).exists():
        raise ChangeRefused(f"{new} is already used by another account.")
    token = signed_links.issue(PURPOSE, {"user": user.id, "email": new, "current": user.email})
    context = {"user": user, "new": new, "url": compose.portal_url("profile.confirm_email", token=token),
               "hours": max(_max_age() // 3600, 1)}
    email = queue_email(to=new, to_name=user.name, kind="email_change", sensitive=True, enqueue=False,
                        subject="Confirm your new Calbridge email",
                        text=compose.render("email/email_change.txt", **context),
                        html=compose.render("email/email_change.html", **context))
    record("user.email_change_requested", actor=user, target=new)
    enqueue_send(email.id)
    return new


def confirm(token):
    """Use the link once: the account signs in with the new address from now on. Returns the user."""
    with db.atomic():
        data = signed_links.consume(PURPOSE, token, _max_age())
        user = User.get_or_none(User.id == data.get("user"))
        if user is None or user.email != data.get("current"):
            raise signed_links.LinkUsed("This link is for an email change that no longer applies.")
        if User.select().where(User.email == data["email"]).exists():
            raise ChangeRefused(f"{data['email']} is already used by another account.")
        User.update(email=data["email"]).where(User.id == user.id).execute()
        record("user.email_changed", actor=user, target=data["email"], detail=f"Was {data['current']}")
    return User.get_by_id(user.id)
