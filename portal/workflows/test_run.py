"""A test run: what each step would do for a chosen contact, sending nothing and changing nothing."""
import json

from portal import localtime, merge_fields
from portal.automation import step_settings, waits
from portal.models import StepKind
from portal.sync.ownership import latest_appointment
from portal.timeutil import utcnow


def simulate(workflow_steps, contact, member_names):
    """``[(step label, what would happen)]`` for ``contact`` and their latest appointment."""
    appointment = latest_appointment(contact)
    context = merge_fields.context_for(contact=contact, appointment=appointment)
    lines = []
    for step in workflow_steps:
        config = json.loads(step.config or "{}")
        label = step_settings.LABELS.get(step.kind, step.kind)
        if step.kind == StepKind.WAIT:
            plan = waits.plan(config, utcnow(), appointment.start if appointment else None)
            text = f"skipped: {plan.skipped}" if plan.skipped else f"would wait until {localtime.when(plan.until)}"
        elif step.kind == StepKind.SEND_WEBHOOK:
            text = f"would POST the event to {config['url']} (not sent in a test run)"
        elif step.kind == StepKind.SEND_EMAIL:
            subject = merge_fields.render(config["subject"], context, field="Subject")
            text = f"would email “{subject}” (not sent in a test run)"
        elif step.kind == StepKind.CREATE_TASK:
            text = "would create the task “" + merge_fields.render(config["title"], context, field="Task title") + "”"
        elif step.kind == StepKind.NOTIFY:
            text = "would notify: " + merge_fields.render(config["text"], context, field="Notification text")
        else:
            text = "would " + step_settings.summary(step, member_names)[0].lower() + \
                step_settings.summary(step, member_names)[1:]
        lines.append((label, text))
    return appointment, lines
