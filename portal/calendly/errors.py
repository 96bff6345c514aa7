"""What can go wrong when talking to Calendly, sorted by what the caller should do.

The split follows the usual calendar-sync taxonomy: temporary (retry later),
permissions (the user must act: reconnect or upgrade), missing, unknown.
"""
import re


class CalendlyError(Exception):
    """A call to Calendly failed. ``status`` is the HTTP status (None for network errors)."""

    def __init__(self, message="", *, status=None, title=""):
        super().__init__(message or title or "Calendly request failed")
        self.status = status
        self.title = title
        self.message = message or title or "Calendly request failed"

    def __str__(self):
        head = " ".join(str(p) for p in (self.status, self.title) if p)
        return f"{head}: {self.message}" if head else self.message


class TransientError(CalendlyError):
    """5xx, network trouble or rate limits that outlasted the retries: try again later."""


class RateLimited(TransientError):
    """429 with a reset too far away to wait for; ``retry_after`` is in seconds."""

    def __init__(self, message="", *, retry_after=60, status=429, title="Too Many Requests"):
        super().__init__(message, status=status, title=title)
        self.retry_after = retry_after


class ReconnectNeeded(CalendlyError):
    """Calendly refused the tokens (SPEC C6): the owner must connect again."""


class MissingScope(ReconnectNeeded):
    """Calendly's 403 ``Permission Denied``: the token lacks ``scope`` (API-FACTS §3); reconnecting grants it."""

    def __init__(self, message="", *, scope, status=403, title="Permission Denied"):
        super().__init__(message, status=status, title=title)
        self.scope = scope


# What each scope the portal needs lets it do, in a customer's words.
SCOPE_WORDS = {
    "users:read": "read your Calendly profile",
    "organizations:read": "read your Calendly organization and plan",
    "event_types:read": "read your Calendly event types (the calendars to import)",
    "scheduled_events:read": "read your scheduled events and their invitees",
    "webhooks:read": "check its webhook subscription",
    "webhooks:write": "create the webhook subscription that sends your bookings",
}
# A scope as Calendly names one: ``scheduled_events:read``.
SCOPE_PATTERN = re.compile(r"\b([a-z_]+:(?:read|write))\b")


def scope_named_in(title, message):
    """The scope a 403 says is missing, or None when the 403 is about something else."""
    if (title or "").lower() != "permission denied":
        return None
    found = SCOPE_PATTERN.search(message or "")
    return found.group(1) if found else None


def missing_scope_message(scope):
    """Why a connection needs reconnecting when its token lacks ``scope``, for the owner to read."""
    words = SCOPE_WORDS.get(scope, "do what it needs")
    return (f"Calendly did not give Calbridge permission to {words} (the \"{scope}\" permission). "
            "Reconnect Calendly and allow access to resume syncing.")


class PlanNotSupported(CalendlyError):
    """The Calendly plan does not allow what was asked (SPEC C5)."""


class NotFound(CalendlyError):
    """The resource does not exist (or no longer does) at Calendly."""


def error_from_body(status, body):
    """``(title, message)`` from a Calendly error body, API or OAuth style."""
    if not isinstance(body, dict):
        return "", ""
    if "error" in body and "title" not in body:  # the OAuth host speaks RFC 6749
        return str(body.get("error") or ""), str(body.get("error_description") or body.get("error") or "")
    title = str(body.get("title") or "")
    message = str(body.get("message") or "")
    details = body.get("details") or []
    parts = []
    for d in details if isinstance(details, list) else []:
        if isinstance(d, dict) and d.get("message"):
            parts.append(f"{d['parameter']} {d['message']}" if d.get("parameter") else str(d["message"]))
    if parts:
        message = f"{message} ({'; '.join(parts)})" if message else "; ".join(parts)
    return title, message


def user_message(exc):
    """A sentence to show a user for a failed Calendly call (never a token or a stack trace)."""
    if isinstance(exc, RateLimited):
        return f"Calendly is rate limiting requests right now. Try again in about {int(exc.retry_after) or 1} seconds."
    if isinstance(exc, TransientError):
        return "Calendly could not be reached just now. Please try again in a moment."
    if isinstance(exc, MissingScope):
        return missing_scope_message(exc.scope)
    if isinstance(exc, ReconnectNeeded):
        return "Calendly no longer accepts Calbridge's access to this account. Connect Calendly again."
    if isinstance(exc, CalendlyError):
        from portal.words import plain  # late: words reads the models, which this module must not need

        return (f"Calendly answered: {plain(exc.message).rstrip('.')}. "
                "Please try again, or contact support if it keeps happening.")
    return "Something went wrong while talking to Calendly. Please try again."
