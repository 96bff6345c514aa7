"""Which published workflows an event enrols into."""
from dataclasses import dataclass, field

from portal.models import EventKind, WorkflowStatus

PORTAL_CALENDAR = "portal"


@dataclass(frozen=True)
class EventFacts:
    """What the filters look at, read once per event."""

    kind: str
    created_at: object
    to_value: str | None = None
    calendar: str = ""  # an event type URI, or "" for a portal-made appointment
    source: str = ""  # calendly | portal | "" (no appointment)
    tags: frozenset = field(default_factory=frozenset)
    by_workflow: int | None = None
    starts_workflows: bool = True
    has_contact: bool = True


def statuses_of(workflow):
    return [s for s in (workflow.trigger_statuses or "").split(",") if s]


def refusal(workflow, facts):
    """Why ``workflow`` does not take the event (a short reason), or None when it does."""
    if workflow.status != WorkflowStatus.PUBLISHED or workflow.published_at is None:
        return "not published"
    if facts.created_at < workflow.published_at:
        return "event from before the workflow was published"
    if not facts.starts_workflows:
        return "historical appointment from the backfill (the connection's switch is off)"
    if facts.by_workflow == workflow.id:
        return "loop guard: made by this workflow's own step"
    if not facts.has_contact:
        return "no contact"
    if workflow.trigger != facts.kind:
        return "another trigger"
    if facts.kind == EventKind.STATUS_CHANGED:
        wanted = statuses_of(workflow)
        if wanted and facts.to_value not in wanted:
            return "another status"
    if workflow.filter_calendar:
        calendar = facts.calendar or (PORTAL_CALENDAR if facts.source == "portal" else "")
        if calendar != workflow.filter_calendar:
            return "another calendar"
    if workflow.filter_source and facts.source != workflow.filter_source:
        return "another source"
    if workflow.filter_has_tag and workflow.filter_has_tag not in facts.tags:
        return f"contact lacks tag {workflow.filter_has_tag}"
    if workflow.filter_not_tag and workflow.filter_not_tag in facts.tags:
        return f"contact has tag {workflow.filter_not_tag}"
    return None


def active_key(workflow_id, contact_id):
    """The unique key that keeps a contact in a workflow once at a time."""
    return f"{workflow_id}:{contact_id}"
