"""What each workflow step does. Every effect is keyed on its step run, so running a step again
after a crash adds no second tag, task or notification."""
import base64
import json
import secrets
import time
from datetime import timedelta, timezone

import requests
from flask import current_app
from standardwebhooks import Webhook

from portal import merge_fields
from portal.automation.destinations import RefusedUrl, check_url
from portal.automation.step_settings import ASSIGNED, OWNER
from portal.models import (
    Contact,
    ContactTag,
    FollowUpTask,
    Membership,
    Notification,
    StepKind,
    User,
    WebhookAttempt,
)
from portal.pipeline import workflow_email
from portal.sync import ownership
from portal.timeutil import to_iso, utcnow


class RetryLater(Exception):
    """A transient failure (5xx, timeout): the step is tried again with backoff."""


class GiveUp(Exception):
    """A failure trying again will not mend (a 4xx, a refused URL): the enrolment fails at once."""


def new_secret():
    """A Standard Webhooks signing secret (shown once, stored encrypted)."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def _member(subaccount_id, user_id):
    return (User.select().join(Membership, on=(Membership.user == User.id))
            .where((User.id == user_id) & (Membership.subaccount == subaccount_id)).first())


def recipient(to, enrolment):
    """The user a step addresses, or None (no owner, no assigned user, no longer a member)."""
    appointment, contact = enrolment.appointment, enrolment.contact
    if to == OWNER:
        user_id = appointment.owner_id if appointment is not None else None
    elif to == ASSIGNED:
        user_id = Contact.select(Contact.assigned_user).where(Contact.id == contact.id).scalar() if contact else None
    else:
        user_id = int(to) if str(to).isdigit() else None
    return _member(enrolment.subaccount_id, user_id) if user_id else None


def context(enrolment):
    appointment, contact = enrolment.appointment, enrolment.contact
    return merge_fields.context_for(contact=contact, appointment=appointment)


def perform(kind, config, step, enrolment, run, after_commit):
    """Do a database step in the caller's transaction; returns ``(outcome, detail)``.

    ``after_commit`` collects what must wait for the commit (enqueueing an email's send job).
    """
    contact = enrolment.contact
    if contact is None:
        return "skipped", "the contact no longer exists"
    if kind == StepKind.ADD_TAG:
        added = ContactTag.insert(contact=contact.id, tag=config["tag"]).on_conflict_ignore().as_rowcount().execute()
        return "done", f"tag {config['tag']} added" if added else f"already tagged {config['tag']}"
    if kind == StepKind.REMOVE_TAG:
        removed = ContactTag.delete().where((ContactTag.contact == contact.id)
                                            & (ContactTag.tag == config["tag"])).execute()
        return "done", f"tag {config['tag']} removed" if removed else f"had no tag {config['tag']}"
    if kind == StepKind.ASSIGN:
        user = recipient(config["to"], enrolment)
        if user is None:
            return "skipped", "no such user (the appointment has no owner, or they left the subaccount)"
        ownership.set_assigned_user(Contact.get_by_id(contact.id), user.id)
        return "done", f"assigned to {user.display_name}"
    if kind == StepKind.CREATE_TASK:
        user = recipient(config["to"], enrolment)
        title = merge_fields.render(config["title"], context(enrolment), field="Task title")[:255]
        due = utcnow() + timedelta(minutes=int(config.get("due_minutes") or 0))
        FollowUpTask.insert(subaccount=enrolment.subaccount_id, contact=contact.id,
                            assignee=user.id if user else None, title=title, due_at=due, step_run=run.id,
                            created_at=utcnow()).on_conflict_ignore().execute()
        return "done", f"task “{title}” for {user.display_name if user else 'nobody'}"
    if kind == StepKind.NOTIFY:
        user = recipient(config["to"], enrolment)
        if user is None:
            return "skipped", "no such user to notify"
        text = merge_fields.render(config["text"], context(enrolment), field="Notification text")[:255]
        Notification.insert(subaccount=enrolment.subaccount_id, user=user.id, text=text,
                            link=f"/contacts/{contact.id}", step_run=run.id,
                            created_at=utcnow()).on_conflict_ignore().execute()
        return "done", f"notified {user.display_name}"
    if kind == StepKind.SEND_EMAIL:
        return workflow_email.send(config, enrolment, recipient, after_commit)
    raise ValueError(f"unknown step kind {kind}")


# ------------------------------------------------------------------ Send webhook
def payload(enrolment):
    event, appointment, contact = enrolment.event, enrolment.appointment, enrolment.contact
    data = {"event": {"id": event.id, "type": event.kind, "origin": event.origin,
                      "from": event.from_value, "to": event.to_value, "at": to_iso(event.created_at)}
            if event is not None else None,
            "workflow": {"id": enrolment.workflow_id, "name": enrolment.workflow.name}}
    if contact is not None:
        data["contact"] = {"id": contact.id, "name": contact.name, "email": contact.email,
                           "tags": sorted(t.tag for t in contact.tags)}
    if appointment is not None:
        data["appointment"] = {"id": appointment.id, "title": appointment.title, "start": to_iso(appointment.start),
                               "end": to_iso(appointment.end), "status": appointment.status,
                               "calendar": appointment.calendar_name, "source": appointment.source,
                               "owner": appointment.owner.email if appointment.owner_id else None}
    return {"type": event.kind if event is not None else "workflow.test", "timestamp": to_iso(utcnow()),
            "data": data}


def send_webhook(config, step, enrolment, run):
    """POST the signed event; every attempt is logged. The message id is the step run's: receivers can dedupe."""
    try:
        url = check_url(config["url"], allow_private=bool(current_app.config.get("WEBHOOK_ALLOW_PRIVATE")))
    except RefusedUrl as exc:
        raise GiveUp(str(exc)) from exc
    body = json.dumps(payload(enrolment), separators=(",", ":"))
    msg_id, now = f"msg_calbridge_{run.id}", utcnow().replace(tzinfo=timezone.utc)
    signature = Webhook(step.secret).sign(msg_id, now, body)
    headers = {"content-type": "application/json", "webhook-id": msg_id,
               "webhook-timestamp": str(int(now.timestamp())),
               "webhook-signature": signature, "user-agent": "Calbridge-Workflows"}
    started = time.monotonic()
    status, error = None, None
    try:
        resp = requests.post(url, data=body.encode(), headers=headers, allow_redirects=False,
                             timeout=float(current_app.config.get("WORKFLOW_WEBHOOK_TIMEOUT", 10)))
        status = resp.status_code
    except requests.RequestException as exc:
        error = f"{exc.__class__.__name__}: {exc}"[:500]
    duration = int((time.monotonic() - started) * 1000)
    WebhookAttempt.create(step_run=run.id, url=url[:255], status_code=status, duration_ms=duration, error=error,
                          at=utcnow())
    if error is not None:
        raise RetryLater(f"POST {url}: {error}")
    if status >= 500 or status == 429:
        raise RetryLater(f"POST {url}: HTTP {status}")
    if status >= 300:
        raise GiveUp(f"POST {url}: HTTP {status}")
    return "done", f"POST {url}: HTTP {status} in {duration} ms"
