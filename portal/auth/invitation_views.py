"""Accepting an invitation (issue 15): a new account sets its password; an existing one signs in and accepts.

The page is public (the invitee has no session yet); the link alone decides
(``portal.mail.invitations``). An expired, used, revoked or replaced link
gets a page saying which, with status 410; a link never signed, 404.
"""
from flask import flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user

from portal.auth import bp
from portal import passwords, sessions
from portal.mail import invitations
from portal.models import User
from portal.signed_links import LinkInvalid, LinkProblem
from portal.tenancy import SESSION_KEY
from portal.timeutil import utcnow


@bp.route("/invitations/<token>", methods=["GET", "POST"])
def accept_invitation(token):
    try:
        invitation, existing = invitations.open_link(token)
    except LinkProblem as exc:
        return _problem(exc)
    signed_in_as = current_user.email if current_user.is_authenticated else None
    error = None
    if request.method == "POST":
        try:
            user = _accept(token, invitation, existing)
        except invitations.InvitationRefused as exc:
            error = exc.message
        except LinkProblem as exc:
            return _problem(exc)
        else:
            if user is not None:
                session[SESSION_KEY] = invitation.subaccount_id  # open the subaccount they joined
                flash(f"Welcome to {invitation.subaccount.name}.", "success")
                return redirect(url_for("main.dashboard"), 303)
            error = _password_problem(invitation) or "The two passwords are not the same."
    return render_template("auth/invitation.html", invitation=invitation, existing=existing,
                           signed_in_as=signed_in_as, error=error,
                           name=request.form.get("name", invitation.name)), 422 if error else 200


def _accept(token, invitation, existing):
    """The user who joined, or None when the new password is refused (the page says why)."""
    if existing is not None:
        if not current_user.is_authenticated:
            raise invitations.InvitationRefused(f"Sign in as {invitation.email} to accept.")
        return invitations.accept(token, user=User.get_by_id(current_user.id))
    password = request.form.get("password") or ""
    if _password_problem(invitation) or password != (request.form.get("confirm") or ""):
        return None
    user = invitations.accept(token, name=request.form.get("name") or "", password=password)
    session.clear()  # a fresh session for the new account (no fixation)
    login_user(user)
    sessions.start(user)
    User.update(last_signin_at=utcnow()).where(User.id == user.id).execute()
    return user


def _password_problem(invitation):
    """The password policy (T3), with the invitee's address and name as words it must not be made of."""
    return passwords.problem(request.form.get("password") or "",
                             user_inputs=[invitation.email, request.form.get("name") or invitation.name,
                                          *invitation.email.split("@")])


def _problem(exc):
    return (render_template("auth/invitation_problem.html", problem=str(exc)),
            404 if isinstance(exc, LinkInvalid) else 410)
