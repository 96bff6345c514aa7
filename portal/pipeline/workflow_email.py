"""The Send email step on the mail outbox: to the contact (DND honoured), their assigned user or the owner,
from the subaccount's sender name (Settings > Email)."""
from portal import merge_fields
from portal.mail import contacts as contact_mail
from portal.mail.outbox import MailRefused, enqueue_send, queue_email


def send(config, enrolment, recipient, after_commit):
    """Queue the email in the step's transaction; the send job is enqueued after the commit."""
    context = merge_fields.context_for(contact=enrolment.contact, appointment=enrolment.appointment)
    subject = merge_fields.render(config["subject"], context, field="Subject")
    body = merge_fields.render(config["body"], context, field="Body")
    try:
        if config["to"] == "contact":
            result = contact_mail.send_to_contact(enrolment.contact, subject=subject, text=body, kind="workflow",
                                                  enqueue=False)
            if isinstance(result, contact_mail.Skipped):
                return "skipped", result.reason
            to = enrolment.contact.email
        else:
            user = recipient(config["to"], enrolment)
            if user is None:
                return "skipped", "no such user to email"
            result = queue_email(to=user.email, to_name=user.name, subject=subject, text=body, kind="workflow",
                                 subaccount=enrolment.subaccount_id, contact=enrolment.contact_id,
                                 sender_name=enrolment.subaccount.sender_name, enqueue=False)
            to = user.email
    except MailRefused as exc:
        return "skipped", f"email refused: {exc}"
    after_commit.append(lambda: enqueue_send(result.id))
    return "done", f"email “{subject}” queued to {to}"
