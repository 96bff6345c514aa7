"""One email when a connection breaks (S1: Reconnect needed, Plan not supported, Error), one when it recovers.

A connection has one ``ConnectionAlert`` row. Opening an episode is a
conditional UPDATE (only when none is open) in the same transaction as the
email it sends, so however often ``check`` runs, one breakage sends one
email; closing it the same way sends one recovery email.
"""
from peewee import JOIN

from portal.connection_status import ADVICE, ALERTING, RECOVERED
from portal.extensions import db
from portal.mail import compose
from portal.mail.outbox import enqueue_send, queue_email
from portal.models import CalendlyConnection, ConnectionAlert
from portal.timeutil import utcnow


def check(connection_id):
    """``jobs.mail.check_connection_alert``: open or close the episode the status calls for."""
    connection = CalendlyConnection.get_or_none(CalendlyConnection.id == connection_id)
    if connection is None:
        return None
    ConnectionAlert.insert(connection=connection.id).on_conflict_ignore().execute()
    mine = ConnectionAlert.connection == connection.id
    email = None
    with db.atomic():
        if connection.status in ALERTING:
            opened = (ConnectionAlert.update(episode_status=connection.status, opened_at=utcnow(), closed_at=None,
                                             alerts_sent=ConnectionAlert.alerts_sent + 1)
                      .where(mine & ConnectionAlert.episode_status.is_null()).execute())
            if opened:
                email = _email(connection, "connection_alert",
                               f"Calendly connection needs attention: {connection.status_label}")
            outcome = "alerted" if opened else "already alerted"
        else:
            closed = (ConnectionAlert.update(episode_status=None, closed_at=utcnow())
                      .where(mine & ConnectionAlert.episode_status.is_null(False)).execute())
            # A disconnected connection closes its episode without a "working again" email.
            if closed and connection.status in RECOVERED:
                email = _email(connection, "connection_recovered", "Calendly connection working again")
            outcome = "recovered" if closed else "nothing to do"
    if email is not None:
        enqueue_send(email.id)  # after the commit, so the send job finds the row
    return outcome


def sweep():
    """``jobs.mail.sweep_connection_alerts``: check every connection whose status and episode disagree."""
    stale = (CalendlyConnection.select(CalendlyConnection.id)
             .join(ConnectionAlert, JOIN.LEFT_OUTER, on=(ConnectionAlert.connection == CalendlyConnection.id))
             .where((CalendlyConnection.status.in_(ALERTING) & ConnectionAlert.episode_status.is_null())
                    | (ConnectionAlert.episode_status.is_null(False)
                       & CalendlyConnection.status.not_in(ALERTING))))
    return [check(row.id) for row in list(stale)]


def _email(connection, kind, subject):
    owner = connection.user
    context = {"c": connection, "owner": owner, "advice": ADVICE.get(connection.status, ""),
               "url": compose.portal_url("connections.index"), "recovered": kind == "connection_recovered"}
    return queue_email(
        to=owner.email, to_name=owner.name, kind=kind, subaccount=connection.subaccount_id, subject=subject,
        text=compose.render("email/connection_status.txt", **context),
        html=compose.render("email/connection_status.html", **context), enqueue=False,
    )
