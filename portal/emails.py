"""Is this an email address? One loose check for every form that takes one."""
import re

# Deliberately loose: a real address has one @ and a dot in its domain.
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def is_valid_email(email):
    return bool(EMAIL_RE.match((email or "").strip()))
