"""Settings > Team: the members and removing one (issue 15).

Every URL is for the subaccount's admins; anyone else gets 404 (T2). A
member is addressed by their membership id, scoped to the current
subaccount, so another subaccount's member is a 404 too.
"""
from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user

from portal import invitation_forms
from portal.extensions import htmx
from portal.mail import invitations
from portal.models import Invitation, Membership, User
from portal.pipeline import member_removal
from portal.team import bp, members
from portal.tenancy import admin_required, current_subaccount, get_scoped_or_404

INVITE_MODAL = "team/_invite_modal.html"


def _membership_or_404(membership_id):
    return get_scoped_or_404(Membership, membership_id)


def _invitation_or_404(invitation_id):
    return get_scoped_or_404(Invitation, invitation_id)


@bp.route("/")
@admin_required
def index():
    return _page()


def _page(modal=None, form=None, error=None, status=200):
    sub = current_subaccount()
    return render_template("team/index.html", members=members.roster(sub.id), admins=member_removal.admin_count(sub.id),
                           invitations=invitations.pending(sub.id), modal_template=modal, form=form or {},
                           error=error), status


@bp.route("/invitations/new")
@admin_required
def new_invitation():
    """The Invite member dialog: into the page's modal slot (HTMX), or the page with it open."""
    if htmx:
        return render_template(INVITE_MODAL, form={}, error=None)
    return _page(INVITE_MODAL)


@bp.route("/invitations", methods=["POST"])
@admin_required
def invite():
    """Invite member: name, email, role; the invitation email goes out from a job."""
    return invitation_forms.send_posted(
        current_subaccount(), back="team.index",
        refused=lambda form, message: _page(INVITE_MODAL, form, message, 422),
        sent=lambda invitation: f"Invitation sent to {invitation.email}.")


def _on_invitation(invitation_id, act, done):
    """Resend or revoke one of this subaccount's pending invitations (404 for anyone else's)."""
    invitation = _invitation_or_404(invitation_id)
    return invitation_forms.outcome(lambda: act(invitation), done=lambda _: done(invitation), back="team.index")


@bp.route("/invitations/<int:invitation_id>/resend", methods=["POST"])
@admin_required
def resend(invitation_id):
    return _on_invitation(invitation_id, lambda i: invitations.resend(i, User.get_by_id(current_user.id)),
                          lambda i: f"Invitation sent again to {i.email}; the earlier link no longer works.")


@bp.route("/invitations/<int:invitation_id>/revoke", methods=["POST"])
@admin_required
def revoke(invitation_id):
    return _on_invitation(invitation_id, lambda i: invitations.revoke(i, current_user.id),
                          lambda i: f"Invitation to {i.email} revoked: its link no longer works.")


def _after(membership):
    """Back to the team, or to the dashboard when the admin just gave up their own admin rights or membership."""
    still_admin = Membership.get_or_none((Membership.id == membership.id) & (Membership.role == "admin"))
    if membership.user_id == current_user.id and still_admin is None:
        return redirect(url_for("main.dashboard"), code=303)
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
            return _after(membership)
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
    return _after(membership)
