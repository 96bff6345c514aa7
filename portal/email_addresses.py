"""Is this an email address? One check, by email-validator, for every form that takes one."""
from email_validator import EmailNotValidError, validate_email


def is_valid_email(email):
    try:
        # No DNS look-up (forms answer at once); .test addresses (RFC 2606) are the demo data's.
        validate_email((email or "").strip(), check_deliverability=False, test_environment=True)
    except EmailNotValidError:
        return False
    return True
