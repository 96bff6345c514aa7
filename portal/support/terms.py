"""The words the console uses for decisions, rules and webhook states (SPEC S2).

The sync engine stores machine values (``SkipReason``, rule ids such as
``"W4"``); support staff read these labels instead.
"""
from portal.models import Outcome, SkipReason, Status

# The skip reasons in the order SPEC S2 lists them; the console always shows
# every one, so a zero reads as "none", not as "not measured".
SKIP_REASONS = (
    SkipReason.NOT_SELECTED,
    SkipReason.OUTSIDE_WINDOW,
    SkipReason.DUPLICATE,
    SkipReason.PLAN,
    SkipReason.ERROR,
    SkipReason.DISCONNECTED,
)

REASON_LABELS = {
    SkipReason.NOT_SELECTED: "Calendar not selected",
    SkipReason.OUTSIDE_WINDOW: "Outside sync window",
    SkipReason.DUPLICATE: "Duplicate",
    SkipReason.PLAN: "Plan not supported",
    SkipReason.ERROR: "Error",
    SkipReason.DISCONNECTED: "Disconnected",
}

# For the narrow cells of the connection list.
SHORT_REASON_LABELS = {
    SkipReason.NOT_SELECTED: "Not selected",
    SkipReason.OUTSIDE_WINDOW: "Outside window",
    SkipReason.DUPLICATE: "Duplicate",
    SkipReason.PLAN: "Plan",
    SkipReason.ERROR: "Error",
    SkipReason.DISCONNECTED: "Disconnected",
}

OUTCOME_LABELS = {
    Outcome.IMPORTED: "Imported",
    Outcome.SKIPPED: "Skipped",
    Outcome.UPDATED: "Updated",
    Outcome.UNCHANGED: "Unchanged",
}

# One line per SPEC rule a decision can cite, shown next to the rule id.
RULE_SUMMARIES = {
    "C5": "Calendly plan without API or webhook access",
    "C6": "Connection needs to be reconnected",
    "E1": "Booking imported as an appointment",
    "E2": "Guest matched or created as a contact",
    "E4": "Cancellation or reschedule",
    "O1": "Personal calendar: owned by the connecting user",
    "O2": "Shared calendar: owner chosen among connected members",
    "S1": "The connection's status stops syncing",
    "S2": "Applying the booking failed",
    "W1": "Only selected calendars are imported",
    "W2": "Backfill: upcoming events and those created in the backfill window",
    "W3": "Calendar added later: only events created after it was added",
    "W4": "Deselected calendar: bookings made meanwhile are never imported",
    "W5": "Reconnected account: a new connection with a new backfill",
    "W6": "Each booking is imported at most once per subaccount",
}

WEBHOOK_STATE_LABELS = {
    "active": "Active",
    "disabled": "Disabled",
}

# Statuses offered by the list filter, in the order SPEC S1 names them.
STATUS_ORDER = (
    Status.CONNECTED,
    Status.IMPORTING,
    Status.RECONNECT_NEEDED,
    Status.PLAN_NOT_SUPPORTED,
    Status.ERROR,
    Status.DISCONNECTED,
    Status.PENDING,
)


def reason_label(reason):
    return REASON_LABELS.get(reason, (reason or "Other").replace("_", " ").capitalize())


def short_reason_label(reason):
    return SHORT_REASON_LABELS.get(reason) or reason_label(reason)


def outcome_label(outcome):
    return OUTCOME_LABELS.get(outcome, (outcome or "").capitalize())


def rule_summary(rule):
    return RULE_SUMMARIES.get((rule or "").strip().upper(), "")


def rule_text(rule, detail):
    """``"W4: created while the calendar was deselected"``, whether or not ``detail`` names its rule."""
    detail = (detail or "").strip()
    rule = (rule or "").strip()
    if not rule or detail.startswith(rule + ":"):
        return detail or rule_summary(rule)
    return f"{rule}: {detail or rule_summary(rule)}"


def detail_without_rule(rule, detail):
    """``detail`` without its leading ``"W4: "``, for lines that show the rule id beside it."""
    detail = (detail or "").strip()
    prefix = (rule or "").strip() + ":"
    return detail[len(prefix):].strip() if rule and detail.startswith(prefix) else detail


def webhook_state_label(state, subscription_uri):
    """The subscription state as Calendly reported it, or why there is none."""
    if state:
        return WEBHOOK_STATE_LABELS.get(state, state.capitalize())
    return "Unknown" if subscription_uri else "Not registered"


def age_label(moment, now):
    """``"4 min ago"``-style age of a naive-UTC ``moment``; ``"never"`` when unset."""
    if moment is None:
        return "never"
    seconds = int((now - moment).total_seconds())
    if seconds < 0:
        return "just now"
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit} ago"
    return f"{seconds} s ago"


EVENT_LABELS = {
    "appointment_booked": "Appointment booked",
    "appointment_status_changed": "Status changed",
    "contact_created": "Contact created",
    "contact_assigned_user_changed": "Assigned user changed",
}


def event_label(event):
    """The domain event that started an enrolment, in words ("Status changed to No-show")."""
    label = EVENT_LABELS.get(event.kind, event.kind.replace("_", " ").capitalize())
    if event.kind == "appointment_status_changed" and event.to_value:
        label += " to " + event.to_value.replace("_", "-").capitalize()
    return label
