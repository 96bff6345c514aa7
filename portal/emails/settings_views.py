"""Settings > Email: the subaccount's sender name, the From display name of its email to contacts and workflows."""
from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user

from portal.emails import bp
from portal.extensions import db
from portal.mail import compose
from portal.mail.addresses import SENDER_NAME_MAX, MailRefused, clean_sender_name
from portal.models.audit import record
from portal.tenancy import admin_required, current_subaccount


@bp.route("/settings/email", methods=["GET", "POST"])
@admin_required
def settings():
    sub = current_subaccount()
    error, typed = None, sub.email_sender_name
    if request.method == "POST":
        typed = request.form.get("sender_name") or ""
        try:
            name = clean_sender_name(typed)
        except MailRefused as exc:
            error = str(exc)
        else:
            if name != sub.email_sender_name:
                with db.atomic():
                    sub.email_sender_name = name
                    sub.save(only=[type(sub).email_sender_name])
                    record("subaccount.sender_name", actor=current_user.id, subaccount=sub.id, target=sub.name,
                           detail=f"Sender name set to “{name}”." if name else "Sender name cleared (the subaccount's name).")
            flash("Email settings saved.", "success")
            return redirect(url_for("emails.settings"), code=303)
    return render_template("emails/settings.html", subaccount=sub, typed=typed, error=error,
                           from_preview=str(compose.sender(sub.sender_name)), max_length=SENDER_NAME_MAX), 422 if error else 200
