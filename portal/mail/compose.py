"""Building the MIME message (multipart text + HTML) from an outbox row, and absolute portal links."""
import json
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from datetime import timezone

from flask import current_app, url_for
from markupsafe import escape

from portal.mail.addresses import MailRefused, mailbox, one_line, parse_mailbox


def sender(sender_name=""):
    """The From mailbox: CALBRIDGE_MAIL_FROM, with the given display name if any."""
    name, address = parse_mailbox(current_app.config["MAIL_FROM"], "CALBRIDGE_MAIL_FROM")
    one_line(sender_name, "The sender name")
    local, _, domain = address.rpartition("@")
    return Address(display_name=sender_name or name, username=local, domain=domain)


def new_message_id():
    return make_msgid(domain=sender().domain)


def build(email):
    """The ``EmailMessage`` for ``email`` (an ``OutboundEmail``, saved or not)."""
    msg = EmailMessage()
    msg["Subject"] = one_line(email.subject, "The subject")
    msg["From"] = sender(email.sender_name)
    msg["To"] = mailbox(email.recipient_name, email.recipient)
    msg["Date"] = format_datetime(email.created_at.replace(tzinfo=timezone.utc))
    msg["Message-ID"] = email.message_id
    for name, value in json.loads(email.extra_headers or "{}").items():
        msg[one_line(name, "A header name")] = one_line(value, f"The {name} header")
    msg.set_content(email.text_body)
    msg.add_alternative(email.html_body, subtype="html")
    return msg


def check_size(msg):
    limit = int(current_app.config["MAIL_MAX_BYTES"])
    size = len(msg.as_bytes())
    if size > limit:
        raise MailRefused(f"The message is {size // 1024} KB, over the {limit // 1024} KB limit "
                          "(CALBRIDGE_MAIL_MAX_BYTES); it was not sent.")
    return size


def text_to_html(text):
    """A plain text body as simple HTML paragraphs (escaped), for messages written as text."""
    paragraphs = [p for p in (text or "").split("\n\n") if p.strip()]
    body = "".join(f"<p>{escape(p).replace(chr(10), '<br>')}</p>" for p in paragraphs)
    return f'<!doctype html><html><body style="font-family:sans-serif;line-height:1.5">{body}</body></html>'


def render(template_name, **context):
    """An email template rendered on its own: none of the portal pages' context (user, banner) applies."""
    return current_app.jinja_env.get_template(template_name).render(**context)


def portal_url(endpoint, **values):
    """An absolute link to a portal page, from a job as from a request (CALBRIDGE_PORTAL_BASE_URL)."""
    with current_app.test_request_context(base_url=current_app.config["PORTAL_BASE_URL"]):
        return url_for(endpoint, _external=True, **values)
