import hmac
from urllib.parse import urlsplit

from flask import flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user

from portal import passwords, sessions
from portal.auth import bp, throttle
from portal.extensions import login_manager
from portal.models import User
from portal.timeutil import utcnow


@login_manager.user_loader
def load_user(session_id):
    """Sessions carry ``<user id>:<session token>`` (see ``User.get_id``)."""
    user_id, _, token = (session_id or "").partition(":")
    if not user_id.isdigit() or not token:
        return None
    user = User.get_or_none(User.id == int(user_id))
    if user is None or not hmac.compare_digest(user.session_token, token):
        return None
    if not sessions.current_is_live(user):  # this browser's session was ended from My profile
        return None
    return user


def _safe_next(target):
    """Only same-site paths are followed after sign-in (no open redirect)."""
    if not target:
        return None
    if len(target) > 2000 or any(ord(ch) < 32 or ord(ch) == 127 for ch in target) or "\\" in target:
        return None  # CR/LF would split the Location header; a backslash reads as "/" in browsers
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


@bp.route("/signin", methods=["GET", "POST"])
def signin():
    if current_user.is_authenticated:
        return redirect(url_for("main.dashboard"))
    error = None
    email = ""
    status = 200
    if request.method == "POST":
        email = (request.form.get("email") or "").strip().lower()
        password = request.form.get("password") or ""
        user = User.get_or_none(User.email == email)
        client = request.remote_addr
        if not throttle.admit(email, client):
            # T3: counted before the check, per address typed (known or not) and per client.
            error = "Too many failed attempts. Try again in a few minutes."
            status = 429
        elif passwords.verify(user, password):  # the same work for an unknown address
            throttle.succeeded(email, client)
            next_url = _safe_next(request.args.get("next"))
            session.clear()  # no session fixation: a fresh session on sign-in
            login_user(user)
            sessions.start(user)
            User.update(last_signin_at=utcnow()).where(User.id == user.id).execute()  # for Settings > Team
            if user.is_agency_admin and not list(user.subaccounts()):
                return redirect(next_url or url_for("agency.index"))
            if user.is_support and not list(user.subaccounts()):
                return redirect(next_url or url_for("support.index"))
            return redirect(next_url or url_for("main.dashboard"))
        else:
            error = "Email or password is incorrect."
            status = 401
    return render_template("auth/signin.html", error=error, email=email), status


@bp.route("/signout", methods=["POST"])
@login_required
def signout():
    # Sessions are signed cookies: rotating the token makes every copy of
    # this user's session cookie worthless, here and on other devices.
    current_user.rotate_session_token()
    sessions.end_all(current_user)
    logout_user()
    session.clear()
    flash("You have been signed out.", "info")
    return redirect(url_for("auth.signin"))
