"""RQ entry points of outbound email (ids only; the message itself is in the outbox table).

- ``send_email(email_id)``: queue ``default``, job id ``email-<id>``, RQ ``Retry`` on transient failures;
- ``sweep_outbox()``: scheduled; re-enqueues what an outage or a dead worker left queued;
- ``check_connection_alert(connection_id)``: the owner's alert or recovery email (S1);
- ``sweep_connection_alerts()``: scheduled; catches a status change no hook reported;
- ``send_password_reset(email)``: the reset link, if the address has an account.
"""
from jobs.context import job
from portal.mail import accounts, connection_alerts, outbox


@job
def send_email(email_id):
    return outbox.send(email_id)


@job
def sweep_outbox():
    return outbox.sweep()


@job
def check_connection_alert(connection_id):
    return connection_alerts.check(connection_id)


@job
def sweep_connection_alerts():
    return connection_alerts.sweep()


@job
def send_password_reset(email):
    return accounts.send_password_reset(email)
