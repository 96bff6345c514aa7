"""Signed-in sessions (SPEC T3; issue 15, My profile): each sign-in is a ``UserSession`` row.

The session cookie carries the row's key beside the user's ``session_token``:
deleting a row ends that one browser's session (Sign out other sessions, a
password change); rotating the token still ends all of them (Sign out).
"""
import secrets
from datetime import timedelta

from flask import request, session

from portal.models import UserSession
from portal.timeutil import utcnow

SESSION_KEY = "session_key"
# last_seen_at is written at most this often, not on every request.
SEEN_EVERY = timedelta(minutes=1)


def start(user):
    """Record a new sign-in of ``user`` (call after ``login_user`` on a cleared session)."""
    row = UserSession.create(user=user, key=secrets.token_urlsafe(24),
                             user_agent=(request.user_agent.string or "")[:255],
                             ip_address=(request.remote_addr or "")[:64])
    session[SESSION_KEY] = row.key
    return row


def current_is_live(user):
    """Whether this request's session is one of ``user``'s live sessions (noting when it was last seen)."""
    key = session.get(SESSION_KEY)
    if not key:
        return False
    row = UserSession.get_or_none((UserSession.key == key) & (UserSession.user == user.id))
    if row is None:
        return False
    now = utcnow()
    if now - row.last_seen_at > SEEN_EVERY:
        UserSession.update(last_seen_at=now).where(UserSession.id == row.id).execute()
    return True


def end_current():
    key = session.get(SESSION_KEY)
    if key:
        UserSession.delete().where(UserSession.key == key).execute()


def listed(user):
    return list(UserSession.select().where(UserSession.user == user.id).order_by(UserSession.last_seen_at.desc()))


def end_others(user):
    """Sign ``user`` out of every session but this one; returns how many ended."""
    return UserSession.delete().where((UserSession.user == user.id)
                                      & (UserSession.key != session.get(SESSION_KEY, ""))).execute()


def end_all(user):
    return UserSession.delete().where(UserSession.user == user.id).execute()
