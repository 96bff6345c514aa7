"""My profile (issue 15): name, email (confirmed by a link to the new address), password, sessions,
and the person's own time zone (issue 16).

Every change but the email confirmation needs the person signed in; a
password change needs the current password and ends their other sessions.
"""
from flask import flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required

from portal import localtime, passwords, sessions
from portal.tenancy import current_subaccount
from portal.mail import email_change
from portal.mail.addresses import MailRefused, one_line
from portal.models import User
from portal.models.audit import record
from portal.profile import bp
from portal.signed_links import LinkInvalid, LinkProblem

NAME_MAX = 255


def _me():
    return User.get_by_id(current_user.id)


def _page(errors=None, status=200):
    return render_template("profile/index.html", me=_me(), sessions=sessions.listed(current_user),
                           current_key=session.get(sessions.SESSION_KEY), errors=errors or {},
                           zones=localtime.zone_names(), subaccount=current_subaccount()), status


def _back():
    return redirect(url_for("profile.index"), code=303)


@bp.route("/")
@login_required
def index():
    return _page()


@bp.route("/name", methods=["POST"])
@login_required
def change_name():
    try:
        name = " ".join(one_line(request.form.get("name") or "", "The name").split())
    except MailRefused as exc:
        return _page({"name": str(exc)}, 422)
    if not name or len(name) > NAME_MAX:
        return _page({"name": f"Enter your name (at most {NAME_MAX} characters)."}, 422)
    User.update(name=name).where(User.id == current_user.id).execute()
    record("user.name", actor=current_user.id, target=current_user.email)
    flash("Your name was saved.", "success")
    return _back()


@bp.route("/time-zone", methods=["POST"])
@login_required
def change_time_zone():
    """Empty follows the subaccount's zone; otherwise an IANA name from the list."""
    chosen = (request.form.get("time_zone") or "").strip()
    if chosen and not localtime.is_zone(chosen):
        return _page({"time_zone": "Choose a time zone from the list, like America/Chicago."}, 422)
    User.update(time_zone=chosen or None).where(User.id == current_user.id).execute()
    flash(f"Times are now shown in {chosen}." if chosen else "Times now follow your subaccount's time zone.",
          "success")
    return _back()


@bp.route("/email", methods=["POST"])
@login_required
def change_email():
    try:
        new = email_change.request_change(_me(), request.form.get("email") or "")
    except email_change.ChangeRefused as exc:
        return _page({"email": exc.message}, 422)
    flash(f"We sent a link to {new}. Your email changes when you open it.", "success")
    return _back()


@bp.route("/email/confirm/<token>")
def confirm_email(token):
    """Opened from the email sent to the new address; signed in or not."""
    try:
        user = email_change.confirm(token)
    except LinkProblem as exc:
        return (render_template("profile/email_problem.html", problem=str(exc)),
                404 if isinstance(exc, LinkInvalid) else 410)
    except email_change.ChangeRefused as exc:
        return render_template("profile/email_problem.html", problem=exc.message), 409
    flash(f"Your email is now {user.email}. Use it to sign in.", "success")
    return redirect(url_for("profile.index") if current_user.is_authenticated else url_for("auth.signin"), code=303)


@bp.route("/password", methods=["POST"])
@login_required
def change_password():
    me = _me()
    current, new = request.form.get("current_password") or "", request.form.get("new_password") or ""
    if not passwords.verify(me, current):
        return _page({"password": "Your current password is not correct."}, 422)
    problem = passwords.problem(new, user_inputs=[me.email, me.name, *me.email.split("@")])
    if problem is None and new != (request.form.get("confirm_password") or ""):
        problem = "The two new passwords are not the same."
    if problem:
        return _page({"password": problem}, 422)
    me.set_password(new)
    me.save(only=[User.password_hash])
    ended = sessions.end_others(me)
    record("user.password_changed", actor=me, target=me.email, count=ended)
    flash("Your password was changed. Your other sessions were signed out.", "success")
    return _back()


@bp.route("/sessions/sign-out-others", methods=["POST"])
@login_required
def sign_out_others():
    ended = sessions.end_others(current_user)
    record("user.sessions_ended", actor=current_user.id, target=current_user.email, count=ended)
    flash(f"Signed out of {ended} other session{'' if ended == 1 else 's'}.", "success")
    return _back()
