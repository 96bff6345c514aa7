"""The Sent emails page: every message of the subaccount with its state, and each one as the recipient sees it."""
import json

from flask import abort, render_template, request

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


# The message's own HTML, framed by the detail page. Email is styled inline (mail clients read no stylesheet),
# which the portal's policy forbids, so this one response has its own: inline styles and data: images only,
# no script, no form, no remote image (no tracking pixel fires), and a sandbox of its own; framed by us alone.
MESSAGE_POLICY = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; "
                  "form-action 'none'; frame-ancestors 'self'; sandbox")


@bp.route("/emails/<int:email_id>/message")
@admin_required
def message(email_id):
    email = get_scoped_or_404(OutboundEmail, email_id)
    if email.sensitive or not email.html_body:
        abort(404)  # a personal link's text is not kept, nor shown
    return email.html_body, 200, {
        "Content-Type": "text/html; charset=utf-8", "Content-Security-Policy": MESSAGE_POLICY,
        "X-Frame-Options": "SAMEORIGIN", "Cache-Control": "private, no-store",
    }
