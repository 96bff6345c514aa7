"""A step's settings from the builder's form: checked at Save, so a step never fails for its text at run time."""
import json

from portal import merge_fields
from portal.automation import waits
from portal.automation.destinations import RefusedUrl, check_url
from portal.models import StepKind

LABELS = {
    StepKind.WAIT: "Wait",
    StepKind.ADD_TAG: "Add tag",
    StepKind.REMOVE_TAG: "Remove tag",
    StepKind.ASSIGN: "Assign contact",
    StepKind.CREATE_TASK: "Create task",
    StepKind.NOTIFY: "Notify a user",
    StepKind.SEND_EMAIL: "Send email",
    StepKind.SEND_WEBHOOK: "Send webhook",
}
# Who a step addresses: the appointment owner, the contact's assigned user, or a named member (their id).
OWNER, ASSIGNED, CONTACT = "owner", "assigned", "contact"
MAX_TEXT = 5000


class InvalidStep(ValueError):
    """A refusal naming the field: ``Task title, line 1: unknown field contact.nme``."""


def _text(form, name, label, required=True):
    value = (form.get(name) or "").strip()
    if required and not value:
        raise InvalidStep(f"{label}: required.")
    if len(value) > MAX_TEXT:
        raise InvalidStep(f"{label}: at most {MAX_TEXT} characters.")
    try:
        merge_fields.validate(value, field=label)
    except merge_fields.MergeFieldError as exc:
        raise InvalidStep(str(exc)) from exc
    return value


def _int(form, name, label, low=0, high=525600):
    try:
        value = int(form.get(name) or 0)
    except ValueError as exc:
        raise InvalidStep(f"{label}: a whole number.") from exc
    if not low <= value <= high:
        raise InvalidStep(f"{label}: between {low} and {high}.")
    return value


def _tag(form):
    tag = (form.get("tag") or "").strip().lower()
    if not tag or len(tag) > 60 or any(c.isspace() for c in tag):
        raise InvalidStep("Tag: one word of up to 60 characters, e.g. calendly-lead.")
    return tag


def _person(form, member_ids, allowed=(OWNER, ASSIGNED)):
    to = (form.get("to") or "").strip()
    if to in allowed or (to.isdigit() and int(to) in member_ids):
        return to
    raise InvalidStep("Recipient: choose the appointment owner, the assigned user or a member.")


def parse(kind, form, member_ids=(), allow_private=False):
    """The JSON settings of a ``kind`` step from ``form`` (a mapping), or ``InvalidStep``."""
    kind = StepKind(kind)
    if kind == StepKind.WAIT:
        mode = form.get("mode") if form.get("mode") in (waits.DURATION, waits.BEFORE_START) else waits.DURATION
        config = {"mode": mode, "minutes": _int(form, "minutes", "Minutes")}
    elif kind in (StepKind.ADD_TAG, StepKind.REMOVE_TAG):
        config = {"tag": _tag(form)}
    elif kind == StepKind.ASSIGN:
        config = {"to": _person(form, member_ids, allowed=(OWNER,))}
    elif kind == StepKind.CREATE_TASK:
        config = {"to": _person(form, member_ids), "title": _text(form, "title", "Task title"),
                  "due_minutes": _int(form, "due_minutes", "Due in minutes")}
    elif kind == StepKind.NOTIFY:
        config = {"to": _person(form, member_ids), "text": _text(form, "text", "Notification text")}
    elif kind == StepKind.SEND_EMAIL:
        to = (form.get("to") or "").strip()
        if to not in (CONTACT, ASSIGNED, OWNER):
            raise InvalidStep("Recipient: the contact, the assigned user or the appointment owner.")
        config = {"to": to, "subject": _text(form, "subject", "Subject"), "body": _text(form, "body", "Body")}
    else:
        try:
            config = {"url": check_url(form.get("url"), allow_private=allow_private)}
        except RefusedUrl as exc:
            raise InvalidStep(f"URL: {exc}") from exc
    return json.dumps(config)


def summary(step, member_names=None):
    """One line saying what the step does, for the builder and the history."""
    config = json.loads(step.config or "{}")
    names = member_names or {}
    who = {OWNER: "the appointment owner", ASSIGNED: "the assigned user", CONTACT: "the contact"}
    person = who.get(config.get("to")) or names.get(str(config.get("to")), "a member")
    kind = step.kind
    if kind == StepKind.WAIT:
        return waits.describe(config)
    if kind in (StepKind.ADD_TAG, StepKind.REMOVE_TAG):
        return f"{LABELS[kind]} {config.get('tag')}"
    if kind == StepKind.ASSIGN:
        return f"Assign the contact to {person}"
    if kind == StepKind.CREATE_TASK:
        return f"Create task “{config.get('title')}” for {person}"
    if kind == StepKind.NOTIFY:
        return f"Notify {person}: {config.get('text')}"
    if kind == StepKind.SEND_EMAIL:
        return f"Email {person}: {config.get('subject')}"
    return f"POST the event to {config.get('url')}"
