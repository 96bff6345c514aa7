"""The Agency area (issue 15): subaccounts with their counts; create, rename, invite the first admin.

Agency admins only; everyone else, support staff included, gets 404.
"""
from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from portal import invitation_forms
from portal.agency import bp, subaccounts
from portal.models import Subaccount
from portal.tenancy import agency_admin_required


def _get(subaccount_id):
    sub = Subaccount.get_or_none(Subaccount.id == subaccount_id)
    if sub is None:
        abort(404)
    return sub


def _page(error=None, status=200, form=None, editing=None):
    return render_template("agency/index.html", rows=subaccounts.overview(), error=error, form=form or {},
                           editing=editing), status


@bp.route("/")
@agency_admin_required
def index():
    return _page()


def _named(act, done, **on_refusal):
    """Create or rename: ``act()`` gives the name saved, or a refused name shows the page with the message."""
    try:
        name = act()
    except subaccounts.NameRefused as exc:
        return _page(exc.message, 422, **on_refusal)
    flash(done(name), "success")
    return redirect(url_for("agency.index"), code=303)


@bp.route("/subaccounts", methods=["POST"])
@agency_admin_required
def create():
    return _named(lambda: subaccounts.create(request.form.get("name"), current_user.id).name,
                  lambda name: f"Subaccount {name} created. Invite its first admin below.",
                  form={"name": request.form.get("name", "")})


@bp.route("/subaccounts/<int:subaccount_id>/rename", methods=["POST"])
@agency_admin_required
def rename(subaccount_id):
    sub = _get(subaccount_id)
    return _named(lambda: subaccounts.rename(sub, request.form.get("name"), current_user.id),
                  lambda name: f"Renamed to {name}.", editing=sub.id)


@bp.route("/subaccounts/<int:subaccount_id>/invite", methods=["POST"])
@agency_admin_required
def invite_admin(subaccount_id):
    """Invite a subaccount's (first) admin: the same invitation a subaccount admin sends."""
    sub = _get(subaccount_id)
    return invitation_forms.send_posted(
        sub, role="admin", back="agency.index",
        refused=lambda form, message: _page(message, 422, editing=sub.id),
        sent=lambda invitation: f"Invitation sent to {invitation.email} to be admin of {sub.name}.")
