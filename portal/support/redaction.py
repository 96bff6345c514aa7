"""Keep secrets out of whatever the console shows (SPEC T1, S2).

The console never reads token or key columns, but error texts come from
elsewhere (exceptions, tracebacks, Calendly's replies), so every free text it
renders passes through ``redact`` first.
"""
import re

from flask import current_app, has_app_context

MASK = "[redacted]"

_PATTERNS = (
    # Authorization headers and token fields in JSON or form bodies.
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+"),
    re.compile(r'(?i)("?(?:access_token|refresh_token|client_secret|signing_key|id_token|code_verifier)"?\s*[:=]\s*"?)'
               r'[^"&\s,}]+'),
)

_CONFIG_SECRETS = ("CALENDLY_CLIENT_SECRET", "CALENDLY_WEBHOOK_SIGNING_KEY", "SECRET_KEY", "ENCRYPTION_KEY")


def connection_secrets(connection_ids):
    """The secrets of these connections, read only so they can be masked."""
    from portal.models import CalendlyConnection

    if not connection_ids:
        return ()
    fields = (CalendlyConnection.access_token, CalendlyConnection.refresh_token,
              CalendlyConnection.signing_key, CalendlyConnection.webhook_token)
    found = []
    try:
        for row in CalendlyConnection.select(*fields).where(CalendlyConnection.id.in_(list(connection_ids))).tuples():
            found += [value for value in row if value]
    except RuntimeError:  # a token that no longer decrypts cannot be shown either
        pass
    return tuple(found)


def redact(text, extra_secrets=()):
    """``text`` with bearer tokens, token fields and known secret values masked."""
    if not text:
        return text
    for pattern in _PATTERNS:
        text = pattern.sub(lambda m: m.group(1) + MASK, text)
    secrets = list(extra_secrets)
    if has_app_context():
        secrets += [current_app.config.get(name) for name in _CONFIG_SECRETS]
    for secret in secrets:
        if secret and len(secret) >= 6:
            text = text.replace(secret, MASK)
    return text
