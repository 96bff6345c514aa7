"""Settings > Team: the members and removing one (issue 15).

Every URL is for the subaccount's admins; anyone else gets 404 (T2). A
member is addressed by their membership id, scoped to the current
subaccount, so another subaccount's member is a 404 too.
"""
from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user

from portal.mail import invitations
from portal.models import Invitation, Membership, User
from portal.pipeline import member_removal
from portal.team import bp, members
from portal.tenancy import admin_required, current_subaccount, get_scoped_or_404


def _membership_or_404(membership_id):
    return get_scoped_or_404(Membership, membership_id)


@bp.route("/")
@admin_required
def index():
    return _page()


def _page(form=None, error=None, status=200):
    sub = current_subaccount()
    return render_template("team/index.html", members=members.roster(sub.id), admins=member_removal.admin_count(sub.id),
                           invitations=invitations.pending(sub.id), form=form or {}, error=error), status


def _invitation_or_404(invitation_id):
    return get_scoped_or_404(Invitation, invitation_id)


@bp.route("/invitations", methods=["POST"])
@admin_required
def invite():
    """Invite member: name, email, role; the invitation email goes out from a job."""
    form = {k: (request.form.get(k) or "").strip() for k in ("name", "email", "role")}
    try:
        invitation = invitations.invite(current_subaccount(), form["email"], form["name"], form["role"] or "user",
                                        User.get_by_id(current_user.id))
    except invitations.InvitationRefused as exc:
        return _page(form, exc.message, 422)
    flash(f"Invitation sent to {invitation.email}.", "success")
    return redirect(url_for("team.index"), code=303)


@bp.route("/invitations/<int:invitation_id>/resend", methods=["POST"])
@admin_required
def resend(invitation_id):
    try:
        invitation = invitations.resend(_invitation_or_404(invitation_id), User.get_by_id(current_user.id))
    except invitations.InvitationRefused as exc:
        flash(exc.message, "error")
    else:
        flash(f"Invitation sent again to {invitation.email}; the earlier link no longer works.", "success")
    return redirect(url_for("team.index"), code=303)


@bp.route("/invitations/<int:invitation_id>/revoke", methods=["POST"])
@admin_required
def revoke(invitation_id):
    invitation = _invitation_or_404(invitation_id)
    try:
        invitations.revoke(invitation, current_user.id)
    except invitations.InvitationRefused as exc:
        flash(exc.message, "error")
    else:
        flash(f"Invitation to {invitation.email} revoked: its link no longer works.", "success")
    return redirect(url_for("team.index"), code=303)


@bp.route("/members/<int:membership_id>/remove", methods=["GET", "POST"])
@admin_required
def remove(membership_id):
    """The confirmation listing what happens (GET), then the removal (POST)."""
    membership = _membership_or_404(membership_id)
    plan = member_removal.plan(membership)
    error = None
    answer = request.form.get("answer")
    successor = request.form.get("successor", type=int)
    if member_removal.is_last_admin(membership):
        error = member_removal.LAST_ADMIN.format(name=plan.member.display_name, sub=current_subaccount().name)
    elif request.method == "POST":
        try:
            result = member_removal.remove(membership, User.get_by_id(current_user.id), answer, successor)
        except member_removal.Refused as exc:
            error = exc.message
        else:
            for category, text in result:
                flash(text, category)
            return redirect(url_for("team.index"), code=303)
    status = 422 if error and request.method == "POST" else 200
    return render_template("team/remove.html", plan=plan, error=error, answer=answer, successor=successor,
                           blocked=member_removal.is_last_admin(membership)), status


@bp.route("/members/<int:membership_id>/role", methods=["POST"])
@admin_required
def change_role(membership_id):
    membership = _membership_or_404(membership_id)
    try:
        flash(members.change_role(membership, request.form.get("role"), User.get_by_id(current_user.id)),
              "success")
    except member_removal.Refused as exc:
        flash(exc.message, "error")
    return redirect(url_for("team.index"), code=303)
