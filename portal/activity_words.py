"""The Activity log in sentences (issue 16): "Alice deleted 1,202 appointments of Intro Call".

Each audit entry keeps its action, target, count and technical detail as
written (the support console's audit page reads them as they are); this is
how a subaccount's members read one.
"""
from portal.words import plain


def _appointments(n):
    return "1 appointment" if n == 1 else f"{n:,} appointments"


def _calendars(n):
    return "1 calendar" if n == 1 else f"{n:,} calendars"


# action -> sentence, from {who} (a name, or "Calbridge"), {target}, {n} (appointments) and {calendars}.
SENTENCES = {
    "calendar.delete": "{who} removed the calendar {target} and chose to delete its {n}",
    "calendar.keep": "{who} removed the calendar {target} and kept its {n}",
    "calendar.purged": "{who} deleted {n} of {target}",
    "calendar.add": "{who} added the calendar {target}",
    "connection.disconnect": "{who} disconnected the Calendly account {target}",
    "connection.backfill_workflows": "{who} changed whether imported history starts workflows for {target}",
    "member.remove": "{who} removed {target} from the team and handed over {n}",
    "member.role": "{who} changed the role of {target}",
    "member.join": "{target} joined the team",
    "member.invite_resend": "{who} sent the invitation to {target} again",
    "member.invite_revoke": "{who} withdrew the invitation to {target}",
    "calendly.connect": "{who} connected the Calendly account {target} with {calendars}",
    "calendly.authorize": "{who} signed in to Calendly as {target}",
    "calendly.reconnect": "{who} reconnected the Calendly account {target}",
    "calendly.refused": "{who} tried to connect the Calendly account {target}, but its Calendly plan does not "
                        "allow Calbridge to receive bookings",
    "calendar.renamed_in_calendly": "The calendar {target} was renamed in Calendly",
    "calendar.deleted_in_calendly": "The calendar {target} was deleted in Calendly",
    "calendar.restored_in_calendly": "The calendar {target} is back in Calendly",
    "appointment.status": "{who} changed the status of {target}",
    "contact.unsubscribe": "{target} unsubscribed from email",
    "contact.dnd_clear": "{who} allowed email to {target} again",
    "subaccount.sender_name": "{who} changed the email sender name",
    "subaccount.create": "{who} created the subaccount {target}",
    "subaccount.rename": "{who} renamed the subaccount to {target}",
    "workflow.create": "{who} created the workflow {target}",
    "workflow.update": "{who} changed the workflow {target}",
    "workflow.step_add": "{who} added a step to the workflow {target}",
    "workflow.retry": "{who} retried a failed run of the workflow {target}",
    "task.done": "{who} completed the task {target}",
}
# Details that repeat the sentence or only name a rule: not shown beside it.
_QUIET = {"calendly.refused", "calendar.purged", "member.remove"}


def sentence(entry, label=""):
    """The entry as one sentence, e.g. ``Alice deleted 1,202 appointments of Intro Call.``"""
    who = entry.actor.display_name if entry.actor_id and entry.actor else "Calbridge"
    template = SENTENCES.get(entry.action)
    if template is None:
        return f"{who}: {label or entry.action.replace('.', ' ').replace('_', ' ')}" + (
            f" ({entry.target})." if entry.target else ".")
    text = template.format(who=who, target=entry.target or "(unnamed)", n=_appointments(entry.count or 0),
                           calendars=_calendars(entry.count or 0))
    return text[:1].upper() + text[1:] + "."


def detail(entry):
    """The entry's detail in words, or "" when it adds nothing to the sentence."""
    if entry.action in _QUIET or not entry.detail:
        return ""
    if entry.action == "connection.backfill_workflows":
        return "Now on." if entry.detail == "on" else "Now off."
    if entry.action == "calendly.connect":
        return f"Calendars: {entry.detail}."
    text = plain(entry.detail)
    return text if text.endswith(".") else text + "."
