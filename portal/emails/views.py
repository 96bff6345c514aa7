"""The Sent emails page: every message of the subaccount with its state, and each one as the recipient sees it."""
import json

from flask import render_template, request

from portal.emails import bp
from portal.models import OutboundEmail
from portal.tenancy import admin_required, current_subaccount, get_scoped_or_404

PAGE_SIZE = 50


@bp.route("/emails/")
@admin_required
def index():
    """Newest first, a page of 50 by id (keyset: ``?before=<id>``)."""
    before = request.args.get("before", type=int)
    query = OutboundEmail.select().where(OutboundEmail.subaccount == current_subaccount())
    if before:
        query = query.where(OutboundEmail.id < before)
    rows = list(query.order_by(OutboundEmail.id.desc()).limit(PAGE_SIZE + 1))
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    return render_template("emails/index.html", emails=rows,
                           older=rows[-1].id if more else None, paged=bool(before))


@bp.route("/emails/<int:email_id>")
@admin_required
def detail(email_id):
    email = get_scoped_or_404(OutboundEmail, email_id)
    return render_template("emails/detail.html", e=email, headers=json.loads(email.extra_headers or "{}"))
