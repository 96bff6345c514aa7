"""Account emails: the password reset link (invitations use ``portal.signed_links`` the same way)."""
import hashlib
import logging
from datetime import timedelta

from flask import current_app
from redis.exceptions import RedisError

from portal import signed_links
from portal.extensions import db
from portal.mail import compose
from portal.mail.outbox import queue_email
from portal.models import OutboundEmail, User
from portal.models.audit import record
from portal.queues import get_queue
from portal.timeutil import utcnow

log = logging.getLogger(__name__)

RESET = "password-reset"
RESET_JOB = "jobs.mail.send_password_reset"
# Someone typing a victim's address again and again sends them at most this many links an hour.
RESETS_PER_HOUR = 3


def request_password_reset(address):
    """What the Forgot password form does, for every address alike: hand it to a job (no lookup here)."""
    try:
        get_queue("default").enqueue(RESET_JOB, (address or "").strip().lower())
    except RedisError as exc:  # the same page all the same: it must not tell anything apart
        log.warning("a password reset request was not enqueued: Redis unavailable (%s)", exc)


def _password_mark(user):
    """Part of the link: a new password makes every earlier link worthless (a digest, not the hash)."""
    return hashlib.sha256(user.password_hash.encode()).hexdigest()[:16]


def send_password_reset(address):
    """``jobs.mail.send_password_reset``: email the link if ``address`` has an account; None otherwise."""
    user = User.get_or_none(User.email == address)
    if user is None:
        return None
    recent = (OutboundEmail.select()
              .where((OutboundEmail.recipient == user.email) & (OutboundEmail.kind == "password_reset")
                     & (OutboundEmail.created_at > utcnow() - timedelta(hours=1))).count())
    if recent >= RESETS_PER_HOUR:
        return "throttled"
    token = signed_links.issue(RESET, {"user": user.id, "mark": _password_mark(user)})
    context = {"user": user, "url": compose.portal_url("auth.reset_password", token=token),
               "minutes": int(current_app.config["PASSWORD_RESET_MAX_AGE_SECONDS"]) // 60}
    email = queue_email(
        to=user.email, to_name=user.name, kind="password_reset", sensitive=True,
        subject="Reset your Calbridge password",
        text=compose.render("email/password_reset.txt", **context),
        html=compose.render("email/password_reset.html", **context),
    )
    return email.id


def _reset_user(data):
    user = User.get_or_none(User.id == data.get("user"))
    if user is None or data.get("mark") != _password_mark(user):
        raise signed_links.LinkUsed("This link has already been used.")
    return user


def user_for_reset(token):
    """The user a reset link is for, or a ``signed_links.LinkProblem``."""
    return _reset_user(signed_links.peek(RESET, token, current_app.config["PASSWORD_RESET_MAX_AGE_SECONDS"]))


def reset_password(token, password):
    """Use the link once: set the password and sign the user out everywhere (T3)."""
    with db.atomic():
        data = signed_links.consume(RESET, token, current_app.config["PASSWORD_RESET_MAX_AGE_SECONDS"])
        user = _reset_user(data)
        user.set_password(password)
        user.save(only=[User.password_hash])
        user.rotate_session_token()
        record("user.password_reset", actor=user, target=user.email)
    return user
