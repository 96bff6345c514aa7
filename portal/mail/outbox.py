"""The outbox: queue a message, send it from an RQ job exactly once, sweep what was left behind."""
import json
import logging
from datetime import timedelta

from flask import current_app
from redis.exceptions import RedisError
from rq import Retry
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus

from portal.extensions import db
from portal.mail import compose, smtp
from portal.mail.addresses import MailRefused, clean_address, one_line
from portal.models import MailState, OutboundEmail
from portal.queues import get_queue, get_redis
from portal.timeutil import utcnow

log = logging.getLogger(__name__)

SEND_JOB = "jobs.mail.send_email"
ACTIVE_JOB_STATES = (JobStatus.QUEUED, JobStatus.STARTED, JobStatus.SCHEDULED, JobStatus.DEFERRED)
SWEEP_BATCH = 500
# A claim older than this belongs to a worker that died mid-send.
STALE_CLAIM = timedelta(minutes=10)

__all__ = ["MailRefused", "queue_email", "send", "sweep"]


def queue_email(*, to, subject, text, kind, html=None, to_name="", subaccount=None, contact=None,
                sender_name="", headers=None, sensitive=False, enqueue=True):
    """Validate, store (Queued) and enqueue one message; ``MailRefused`` says what is wrong with it.

    Inside a transaction pass ``enqueue=False`` and call ``enqueue_send`` after the commit, so the
    job cannot look for the row before it exists (the sweep sends it anyway, later).
    """
    email = OutboundEmail(
        subaccount=subaccount, kind=kind, contact=contact, sender_name=one_line(sender_name, "The sender name"),
        recipient=clean_address(to, "The recipient's address"), recipient_name=one_line(to_name, "The recipient's name"),
        subject=one_line(subject, "The subject"), text_body=text, html_body=html or compose.text_to_html(text),
        extra_headers=json.dumps(headers or {}), message_id=compose.new_message_id(), sensitive=sensitive,
        created_at=utcnow(),
    )
    compose.check_size(compose.build(email))  # every header checked too: what cannot be sent is not stored
    email.save()
    if enqueue:
        enqueue_send(email.id)
    return email


def enqueue_send(email_id):
    """Enqueue the send job (once: a job already queued or retrying is left alone); False if Redis is down."""
    job_id = f"email-{email_id}"
    try:
        try:
            if Job.fetch(job_id, connection=get_redis()).get_status() in ACTIVE_JOB_STATES:
                return False
        except NoSuchJobError:
            pass
        intervals = list(current_app.config["MAIL_RETRY_INTERVALS"])
        get_queue("default").enqueue(SEND_JOB, email_id, job_id=job_id,
                                     retry=Retry(max=len(intervals), interval=intervals) if intervals else None)
        return True
    except RedisError as exc:
        log.warning("email %s stays queued: Redis unavailable (%s); the sweep sends it later", email_id, exc)
        return False


def send(email_id):
    """``jobs.mail.send_email``: claim the row, hand it to SMTP, record the outcome.

    The claim (Queued → Sending) is one conditional UPDATE, so two workers
    never both send it, and a message already Sent is not sent again on a
    retry. A transient failure puts it back to Queued and raises, so RQ's
    ``Retry`` tries again after the configured backoff.
    """
    claimed = (OutboundEmail.update(state=MailState.SENDING, claimed_at=utcnow(),
                                    attempts=OutboundEmail.attempts + 1)
               .where((OutboundEmail.id == email_id) & (OutboundEmail.state == MailState.QUEUED)).execute())
    if not claimed:
        row = OutboundEmail.get_or_none(OutboundEmail.id == email_id)
        return row.state if row else None
    email = OutboundEmail.get_by_id(email_id)
    try:
        settings = smtp.SmtpSettings.from_url(current_app.config["SMTP_URL"],
                                              timeout=current_app.config["SMTP_TIMEOUT_SECONDS"])
        smtp.deliver(compose.build(email), settings)
    except smtp.TransientMailError as exc:
        if email.attempts >= int(current_app.config["MAIL_MAX_ATTEMPTS"]):
            _finish(email_id, MailState.FAILED, f"Gave up after {email.attempts} attempts: {exc}")
            return MailState.FAILED
        _finish(email_id, MailState.QUEUED, f"Attempt {email.attempts} failed, will retry: {exc}")
        raise
    except (smtp.PermanentMailError, MailRefused, ValueError) as exc:
        _finish(email_id, MailState.FAILED, str(exc))
        return MailState.FAILED
    _finish(email_id, MailState.SENT, None, sent_at=utcnow(), sensitive=email.sensitive)
    return MailState.SENT


def _finish(email_id, state, error, sent_at=None, sensitive=False):
    fields = {"state": state, "error": error[:2000] if error else None}
    if sent_at:
        fields["sent_at"] = sent_at
    if sensitive and state == MailState.SENT:
        # The link inside is the recipient's alone: once delivered, nothing keeps a copy.
        fields.update(text_body="", html_body="")
    OutboundEmail.update(**fields).where(
        (OutboundEmail.id == email_id) & (OutboundEmail.state == MailState.SENDING)).execute()


def sweep():
    """``jobs.mail.sweep_outbox``: re-enqueue Queued messages no job holds; fail claims a dead worker left.

    A message claimed by a worker that died may or may not have reached the
    SMTP server; it is marked Failed rather than sent a second time.
    """
    now = utcnow()
    after = timedelta(seconds=int(current_app.config["MAIL_SWEEP_AFTER_SECONDS"]))
    with db.atomic():
        interrupted = (OutboundEmail.update(
            state=MailState.FAILED,
            error="Interrupted while sending (the worker stopped); not sent again so that it cannot arrive "
                  "twice. Check with the recipient and send it again if it did not arrive.")
            .where((OutboundEmail.state == MailState.SENDING) & (OutboundEmail.claimed_at < now - STALE_CLAIM))
            .execute())
    waiting = list(OutboundEmail.select(OutboundEmail.id)
                   .where((OutboundEmail.state == MailState.QUEUED) & (OutboundEmail.created_at < now - after))
                   .order_by(OutboundEmail.id).limit(SWEEP_BATCH))
    enqueued = sum(1 for row in waiting if enqueue_send(row.id))
    return {"enqueued": enqueued, "interrupted": interrupted}
