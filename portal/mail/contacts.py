"""Email to a contact: do-not-disturb honoured, List-Unsubscribe (RFC 8058) and a signed unsubscribe link."""
from dataclasses import dataclass

from markupsafe import escape
from peewee import IntegrityError

from portal import signed_links
from portal.extensions import db
from portal.mail import compose
from portal.mail.outbox import queue_email
from portal.models import Contact, DoNotDisturb
from portal.models.audit import record

UNSUBSCRIBE = "unsubscribe"
EMAIL = "email"


@dataclass(frozen=True)
class Skipped:
    """Not sent, and why (a workflow step shows the reason)."""

    reason: str


def unsubscribe_url(contact):
    token = signed_links.sign_forever(UNSUBSCRIBE, {"contact": contact.id, "subaccount": contact.subaccount_id})
    return compose.portal_url("emails.unsubscribe", token=token)


def contact_for_token(token):
    """The contact an unsubscribe link was made for, or ``LinkInvalid``."""
    data = signed_links.verify_forever(UNSUBSCRIBE, token)
    contact = Contact.get_or_none((Contact.id == data.get("contact")) & (Contact.subaccount == data.get("subaccount")))
    if contact is None:
        raise signed_links.LinkInvalid("This link is not valid.")
    return contact


def is_dnd(contact, channel=EMAIL):
    return DoNotDisturb.select().where((DoNotDisturb.contact == contact) & (DoNotDisturb.channel == channel)).exists()


def unsubscribe(contact):
    """Mark the contact DND: email (once; a second click changes nothing). True if it was new."""
    try:
        with db.atomic():
            DoNotDisturb.create(contact=contact, channel=EMAIL, reason="unsubscribed")
            record("contact.unsubscribe", subaccount=contact.subaccount_id, target=contact.email,
                   detail="The contact unsubscribed through the link in an email.")
    except IntegrityError:
        return False
    return True


def clear_dnd(contact, actor):
    """A user lets email reach the contact again (audited)."""
    with db.atomic():
        removed = DoNotDisturb.delete().where(
            (DoNotDisturb.contact == contact) & (DoNotDisturb.channel == EMAIL)).execute()
        if removed:
            record("contact.dnd_clear", actor=actor, subaccount=contact.subaccount_id, target=contact.email,
                   detail="DND: email cleared by hand.")
    return bool(removed)


def send_to_contact(contact, *, subject, text, html=None, kind="contact", sender_name=None, enqueue=True):
    """Queue an email to ``contact``, or ``Skipped("unsubscribed")`` if they are DND: email.

    Every such email carries ``List-Unsubscribe`` with one-click
    (``List-Unsubscribe-Post``, RFC 8058) and the same link in its footer.
    """
    if is_dnd(contact):
        return Skipped("unsubscribed")
    url = unsubscribe_url(contact)
    sub = contact.subaccount
    footer = f"You receive this email from {sub.name}. Unsubscribe: {url}"
    html = html or compose.text_to_html(text)
    html_footer = (f'<p style="color:#6b7280;font-size:12px">You receive this email from {escape(sub.name)}. '
                   f'<a href="{escape(url)}">Unsubscribe</a></p>')
    html = html.replace("</body>", html_footer + "</body>") if "</body>" in html else html + html_footer
    return queue_email(
        to=contact.email, to_name=contact.name, subject=subject, text=f"{text}\n\n--\n{footer}\n", html=html,
        kind=kind, subaccount=sub, contact=contact, sender_name=sub.sender_name if sender_name is None else sender_name,
        headers={"List-Unsubscribe": f"<{url}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"},
        enqueue=enqueue,
    )
