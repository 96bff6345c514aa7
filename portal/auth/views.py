from datetime import timedelta
from urllib.parse import urlsplit

from flask import current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user

from portal.auth import bp
from portal.extensions import login_manager
from portal.models import User
from portal.timeutil import utcnow


@login_manager.user_loader
def load_user(user_id):
    return User.get_or_none(User.id == int(user_id))


def _safe_next(target):
    """Only same-site paths are followed after sign-in (no open redirect)."""
    if not target:
        return None
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
        now = utcnow()
        if user and user.locked_until and user.locked_until > now:
            # T3: brute force is throttled per account.
            error = "Too many failed attempts. Try again in a few minutes."
            status = 429
        elif user and user.check_password(password):
            user.failed_signins = 0
            user.locked_until = None
            user.save()
            next_url = _safe_next(request.args.get("next"))
            session.clear()  # no session fixation: a fresh session on sign-in
            login_user(user)
            if user.is_support and not list(user.subaccounts()):
                return redirect(next_url or url_for("support.index"))
            return redirect(next_url or url_for("main.dashboard"))
        else:
            error = "Email or password is incorrect."
            status = 401
            if user:
                user.failed_signins += 1
                if user.failed_signins >= current_app.config["SIGNIN_MAX_FAILURES"]:
                    user.locked_until = now + timedelta(seconds=current_app.config["SIGNIN_LOCKOUT_SECONDS"])
                    user.failed_signins = 0
                user.save()
    return render_template("auth/signin.html", error=error, email=email), status


@bp.route("/signout", methods=["POST"])
@login_required
def signout():
    logout_user()
    session.clear()
    flash("You have been signed out.", "info")
    return redirect(url_for("auth.signin"))
