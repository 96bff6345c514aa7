from datetime import timedelta

from flask import redirect, render_template, request, url_for
from flask_login import current_user, login_required

from portal import params
from portal.appointment_listing import IN_PROGRESS_LOOKBACK, with_people
from portal.main import bp
from portal.models import Appointment, CalendlyConnection, Contact, Source, Status
from portal.switching import landing_after_switch
from portal.tenancy import current_role, current_subaccount, subaccount_required, switch_to
from portal.timeutil import utcnow

UPCOMING_SHOWN = 6
RECENT_IMPORTS_SHOWN = 6


@bp.route("/")
@login_required
def index():
    if current_subaccount() is None and current_user.is_support:
        return redirect(url_for("support.index"))
    return redirect(url_for("main.dashboard"))


@bp.route("/dashboard")
@subaccount_required
def dashboard():
    """Counts, what's next, the Calendly status and the latest imports.

    Every query is an index range or an index-only count, so the page stays
    cheap with 100,000 appointments.
    """
    sub = current_subaccount()
    now = utcnow()
    mine = Appointment.subaccount == sub
    upcoming = list(
        with_people()
        .where(mine & (Appointment.start >= now - IN_PROGRESS_LOOKBACK) & (Appointment.end > now))
        .order_by(Appointment.start, Appointment.id)
        .limit(UPCOMING_SHOWN)
    )
    # Newest rows first: the id follows insertion order, and (subaccount) is indexed.
    recent_imports = list(
        with_people()
        .where(mine & (Appointment.source == Source.CALENDLY))
        .order_by(Appointment.id.desc())
        .limit(RECENT_IMPORTS_SHOWN)
    )
    connection = (
        CalendlyConnection.select()
        .where((CalendlyConnection.subaccount == sub) & (CalendlyConnection.user == current_user.id)
               & (CalendlyConnection.status != Status.DISCONNECTED))
        .order_by(CalendlyConnection.id.desc())
        .first()
    )
    teammates_connected = (
        CalendlyConnection.select()
        .where((CalendlyConnection.subaccount == sub) & (CalendlyConnection.status != Status.DISCONNECTED)
               & (CalendlyConnection.user != current_user.id))
        .count()
    )
    return render_template(
        "main/dashboard.html",
        upcoming=upcoming,
        recent_imports=recent_imports,
        appointment_count=Appointment.select().where(mine).count(),
        week_count=Appointment.select().where(
            mine & (Appointment.start >= now) & (Appointment.start < now + timedelta(days=7))).count(),
        contact_count=Contact.select().where(Contact.subaccount == sub).count(),
        connection=connection,
        teammates_connected=teammates_connected,
        now=now,
    )


@bp.route("/switch", methods=["POST"])
@login_required
def switch():
    """Switch on an explicit choice; stay on the same page (``current``) or open the offered record (``open``)."""
    switch_to(request.form.get("subaccount_id", type=params.db_id))
    opened = params.local_path(request.form.get("open"))
    return redirect(opened or landing_after_switch(request.form.get("current"), current_role()), 303)
