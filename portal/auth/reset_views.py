"""Forgot password and the reset link (issue 13): the form never reveals whether an address has an account."""
from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user, logout_user

from portal import passwords
from portal.auth import bp
from portal.mail import accounts
from portal.mail.addresses import MailRefused, clean_address
from portal.signed_links import LinkInvalid, LinkProblem



def password_problem(user, password):
    """What is wrong with the new password, or None: the policy every password form applies (zxcvbn)."""
    return passwords.problem(password, user_inputs=[user.email, user.name, *user.email.split("@")])


@bp.route("/forgot-password", methods=["GET", "POST"])
def forgot_password():
    if current_user.is_authenticated:
        return redirect(url_for("main.dashboard"))
    error, email = None, ""
    if request.method == "POST":
        email = (request.form.get("email") or "").strip()
        try:
            clean_address(email, "The email")
        except MailRefused:
            error = "Enter an email address, like name@example.com."
        else:
            accounts.request_password_reset(email)
            return render_template("auth/forgot_sent.html", email=email)
    return render_template("auth/forgot.html", error=error, email=email), 422 if error else 200


@bp.route("/reset-password/<token>", methods=["GET", "POST"])
def reset_password(token):
    try:
        user = accounts.user_for_reset(token)
    except LinkProblem as exc:
        return _link_problem(exc)
    error = None
    if request.method == "POST":
        password = request.form.get("password") or ""
        error = password_problem(user, password)
        if not error and password != (request.form.get("confirm") or ""):
            error = "The two passwords are not the same."
        if not error:
            try:
                accounts.reset_password(token, password)
            except LinkProblem as exc:
                return render_template("auth/link_problem.html", problem=str(exc)), 410
            logout_user()  # every session of that user ended with the new password (T3)
            flash("Your password was changed. Sign in with the new one.", "success")
            return redirect(url_for("auth.signin"), 303)
    return render_template("auth/reset.html", user=user, error=error), 422 if error else 200


def _link_problem(exc):
    """A link we never signed is Not Found; an expired or used one is Gone."""
    return render_template("auth/link_problem.html", problem=str(exc)), 404 if isinstance(exc, LinkInvalid) else 410
