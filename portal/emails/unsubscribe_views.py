"""Unsubscribe links: GET shows a confirmation, POST unsubscribes (the form's and RFC 8058's one-click).

The POST is authenticated by the link's signature, not by a session, so it
is exempt from CSRF: a mail client posts ``List-Unsubscribe=One-Click``
without any cookie.
"""
from flask import render_template, request

from portal.emails import bp
from portal.extensions import csrf
from portal.mail import contacts as contact_mail
from portal.signed_links import LinkProblem


@bp.route("/unsubscribe/<token>", methods=["GET", "POST"])
@csrf.exempt
def unsubscribe(token):
    try:
        contact = contact_mail.contact_for_token(token)
    except LinkProblem as exc:
        return render_template("emails/unsubscribe.html", problem=str(exc)), 404
    if request.method == "POST":
        contact_mail.unsubscribe(contact)
        return render_template("emails/unsubscribe.html", contact=contact, done=True)
    return render_template("emails/unsubscribe.html", contact=contact, done=contact_mail.is_dnd(contact))
