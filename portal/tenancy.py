"""The current subaccount and the guards that keep each one to itself (SPEC T2).

Every subaccount page is wrapped in ``subaccount_required``; objects are
fetched with ``get_scoped_or_404`` so another subaccount's object is a 404,
exactly like a missing one.
"""
from functools import wraps

from flask import abort, g, session
from flask_login import current_user, login_required

from portal.models import Membership, Subaccount

SESSION_KEY = "subaccount_id"


def init_app(app):
    @app.context_processor
    def _tenancy_context():
        if not current_user.is_authenticated:
            return {}
        return {
            "current_subaccount": current_subaccount(),
            "current_role": current_role(),
            "user_subaccounts": list(current_user.subaccounts()),
        }


def current_subaccount():
    """The subaccount the signed-in user is working in (first one by default)."""
    if "subaccount" in g:
        return g.subaccount
    sub = None
    if current_user.is_authenticated:
        wanted = session.get(SESSION_KEY)
        memberships = Membership.select(Membership, Subaccount).join(Subaccount).where(
            Membership.user == current_user.id
        ).order_by(Subaccount.name)
        for m in memberships:
            if sub is None or m.subaccount_id == wanted:
                sub = m.subaccount
                g.role = m.role
            if m.subaccount_id == wanted:
                break
    g.subaccount = sub
    return sub


def current_role():
    current_subaccount()
    return g.get("role")


def switch_to(subaccount_id):
    """Make ``subaccount_id`` current if the user belongs to it; else 404."""
    if not Membership.select().where(
        (Membership.user == current_user.id) & (Membership.subaccount == subaccount_id)
    ).exists():
        abort(404)
    session[SESSION_KEY] = subaccount_id
    g.pop("subaccount", None)


def subaccount_required(view):
    """Signed in and a member of some subaccount (support staff may have none)."""

    @wraps(view)
    @login_required
    def wrapped(*args, **kwargs):
        if current_subaccount() is None:
            abort(404)
        return view(*args, **kwargs)

    return wrapped


def admin_required(view):
    @wraps(view)
    @subaccount_required
    def wrapped(*args, **kwargs):
        if current_role() != "admin":
            abort(404)
        return view(*args, **kwargs)

    wrapped.admin_only = True  # a switch to a subaccount where one is not admin leaves such a page
    return wrapped


def support_required(view):
    """Support staff only; everyone else gets 404 (the console is not revealed)."""

    @wraps(view)
    @login_required
    def wrapped(*args, **kwargs):
        if not current_user.is_support:
            abort(404)
        return view(*args, **kwargs)

    return wrapped


def agency_admin_required(view):
    """Agency admins only (issue 15); everyone else gets 404."""

    @wraps(view)
    @login_required
    def wrapped(*args, **kwargs):
        if not current_user.is_agency_admin:
            abort(404)
        return view(*args, **kwargs)

    return wrapped


def get_scoped_or_404(model, object_id, *extra):
    """Fetch ``model`` by id within the current subaccount, or 404 (T2)."""
    obj = model.get_or_none((model.id == object_id) & (model.subaccount == current_subaccount()), *extra)
    if obj is None:
        abort(404)
    return obj
