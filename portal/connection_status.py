"""What follows a change of a connection's status (S1): the owner's alert email and the banner.

Every place that sets a connection's status calls ``changed(connection_id)``;
a job (``jobs.mail.check_connection_alert``) then compares the status with
the connection's alert episode. A scheduled sweep catches any change whose
call was lost (Redis down, or the job ran before the change was committed).
"""
import logging

from flask_login import current_user
from redis.exceptions import RedisError

from portal.models import CalendlyConnection, Status
from portal.queues import get_queue

log = logging.getLogger(__name__)

CHECK_JOB = "jobs.mail.check_connection_alert"
ALERTING = (Status.RECONNECT_NEEDED, Status.PLAN_NOT_SUPPORTED, Status.ERROR)
RECOVERED = (Status.CONNECTED, Status.IMPORTING)

# What the owner should do, in the email and on the banner.
ADVICE = {
    Status.RECONNECT_NEEDED: "Calendly no longer accepts Calbridge's access, so new bookings are not imported. "
                             "Open Connections and press Reconnect.",
    Status.PLAN_NOT_SUPPORTED: "The Calendly plan does not allow syncing, so new bookings are not imported. "
                               "Upgrade the plan in Calendly; syncing resumes by itself within minutes.",
    Status.ERROR: "Syncing with Calendly keeps failing. Calbridge keeps retrying; if it goes on, open Connections, "
                  "check the error and reconnect.",
}


def changed(connection_id):
    """Tell the alerting about a status change (never raises: the sweep covers a lost call)."""
    if connection_id is None:
        return
    try:
        get_queue("default").enqueue(CHECK_JOB, connection_id)
    except RedisError as exc:
        log.warning("connection %s: alert check not enqueued (%s); the sweep will do it", connection_id, exc)


def needing_attention(user):
    """The user's own live connections that are in an alerting status (the banner)."""
    return list(CalendlyConnection.select().where(
        (CalendlyConnection.user == user) & CalendlyConnection.status.in_(ALERTING)).order_by(CalendlyConnection.id))


def init_app(app):
    @app.context_processor
    def _connection_banner():
        if current_user is None or not current_user.is_authenticated:
            return {}
        return {"connection_alerts": needing_attention(current_user.id), "connection_advice": ADVICE}
