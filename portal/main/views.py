from flask import redirect, render_template, request, url_for
from flask_login import current_user, login_required

from portal.main import bp
from portal.models import Appointment, CalendlyConnection, Contact, Status
from portal.tenancy import current_subaccount, subaccount_required, switch_to
from portal.timeutil import utcnow


@bp.route("/")
@login_required
def index():
    if current_subaccount() is None and current_user.is_support:
        return redirect(url_for("support.index"))
    return redirect(url_for("main.dashboard"))


@bp.route("/dashboard")
@subaccount_required
def dashboard():
    sub = current_subaccount()
    now = utcnow()
    upcoming = (
        Appointment.select()
        .where((Appointment.subaccount == sub) & (Appointment.start >= now))
        .order_by(Appointment.start, Appointment.id)
        .limit(5)
    )
    connection = CalendlyConnection.get_or_none(
        (CalendlyConnection.subaccount == sub)
        & (CalendlyConnection.user == current_user.id)
        & (CalendlyConnection.status != Status.DISCONNECTED)
    )
    return render_template(
        "main/dashboard.html",
        upcoming=list(upcoming),
        appointment_count=Appointment.select().where(Appointment.subaccount == sub).count(),
        contact_count=Contact.select().where(Contact.subaccount == sub).count(),
        connection=connection,
    )


@bp.route("/switch", methods=["POST"])
@login_required
def switch():
    switch_to(request.form.get("subaccount_id", type=int))
    return redirect(url_for("main.dashboard"))
