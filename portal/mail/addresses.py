"""Addresses and header values: validated before anything is stored, so no header can be injected."""
import unicodedata
from email.headerregistry import Address

from email_validator import EmailNotValidError, validate_email


class MailRefused(ValueError):
    """A message that cannot be sent as asked; the text says why, for a person to read."""


def clean_address(value, what="The address"):
    """The address in its normalized form, or ``MailRefused`` naming what is wrong with it."""
    one_line(value, what)
    try:
        # .test addresses (RFC 2606: the demo data and the tests) cannot reach anyone, so they may be used.
        return validate_email(value or "", check_deliverability=False, test_environment=True).normalized
    except EmailNotValidError as exc:
        raise MailRefused(f"{what} {value!r} is not a valid email address: {exc}") from exc


def one_line(value, what):
    """Refuse CR, LF and other control characters: a header value is one line (no injection)."""
    if any(unicodedata.category(ch) in ("Cc", "Zl", "Zp") and ch != "\t" for ch in value or ""):
        raise MailRefused(f"{what} must be one line of text (it contains a line break or a control character).")
    return value or ""


SENDER_NAME_MAX = 80


def clean_sender_name(value):
    """A subaccount's sender name as typed: one line, at most 80 characters, no address brackets."""
    name = " ".join((value or "").split(" ")).strip()
    one_line(name, "The sender name")
    if len(name) > SENDER_NAME_MAX:
        raise MailRefused(f"The sender name can be at most {SENDER_NAME_MAX} characters.")
    if "<" in name or ">" in name:
        # A name like "Support <help@bank.example>" would show a different address than the real one.
        raise MailRefused("The sender name cannot contain < or >: it is a name, the address is the portal's.")
    return name


def mailbox(name, address, what="The recipient"):
    """A ``Name <address>`` header value built by the email package (it quotes the name)."""
    one_line(name, f"{what}'s name")
    local, _, domain = clean_address(address, f"{what}'s address").rpartition("@")
    return Address(display_name=name or "", username=local, domain=domain)


def parse_mailbox(value, what="The sender"):
    """``Name <addr>`` or a bare address, as CALBRIDGE_MAIL_FROM is written."""
    from email.utils import parseaddr

    one_line(value, what)
    name, address = parseaddr(value or "")
    return name, clean_address(address, f"{what}'s address")
