"""The invitation views' shared half (issue 15): Settings › Team and the Agency area send, resend and revoke alike.

Blueprints do not import each other, so the form handling both need lives
here; the rules themselves are ``portal.mail.invitations``'.
"""
from flask import flash, redirect, request, url_for
from flask_login import current_user

from portal.mail import invitations
from portal.models import User

FIELDS = ("name", "email", "role")


def posted():
    """The invitation form as posted, each field trimmed."""
    return {k: (request.form.get(k) or "").strip() for k in FIELDS}


def send_posted(subaccount, *, refused, sent, back, role=None):
    """Invite whom the posted form names into ``subaccount`` (as ``role``, or the form's role, User by default).

    A refusal is answered by ``refused(form, message)`` (the page again with
    the message); otherwise ``sent(invitation)`` is flashed and the browser
    goes back to the ``back`` endpoint.
    """
    form = posted()
    try:
        invitation = invitations.invite(subaccount, form["email"], form["name"], role or form["role"] or "user",
                                        User.get_by_id(current_user.id))
    except invitations.InvitationRefused as exc:
        return refused(form, exc.message)
    flash(sent(invitation), "success")
    return redirect(url_for(back), code=303)


def outcome(action, done, back):
    """Run ``action()`` (a resend, a revoke); flash its refusal or ``done(result)``; back to ``back``."""
    try:
        result = action()
    except invitations.InvitationRefused as exc:
        flash(exc.message, "error")
    else:
        flash(done(result), "success")
    return redirect(url_for(back), code=303)
