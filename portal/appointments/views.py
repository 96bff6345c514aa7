"""Calendars: the appointments list and the appointment pages (the calendar views: ``calendar_views``).

SPEC E1 (what an appointment shows), E3 (Calendly ones are read-only: every
change answers 409), E6 (portal ones stay in the portal), T2 (scoped; another
subaccount's appointment is a 404).

Decisions where the spec is silent:
- Times are shown and entered in the person's zone (``portal.localtime``), named on the page; stored UTC.
- "Upcoming" lists what has not ended yet (a meeting in progress included),
  soonest first; "Past" and "All" list the latest first.
- A refused change (409) to a Calendly appointment from a plain form post
  shows the appointment again with the message (a redirect cannot carry a
  409); HTMX callers get the message as an alert, API callers as JSON.
- The delete confirmation is an HTMX modal, and a page without JavaScript.
"""
from datetime import timedelta

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_htmx import make_response
from flask_login import current_user
from werkzeug.datastructures import MultiDict

from portal.models import AppointmentStatus, StatusChange
from portal.pipeline import workflows
from portal.sync.status import PORTAL_SETTABLE
from portal.appointments import bp, details, queries, service
from portal.appointments.forms import AppointmentForm
from portal.extensions import htmx
from portal.appointments.live_list import LiveList
from portal.error_responses import error_response, wants_json
from portal.models import Appointment
from portal.switching import get_scoped_or_offer
from portal.tenancy import current_subaccount, get_scoped_or_404, subaccount_required
from portal.timeutil import utcnow


@bp.route("/")
@subaccount_required
def index():
    """The appointments list; a live page asks again for its list and gets 204 while what it shows is unchanged."""
    shown = LiveList(current_subaccount(), request.args)
    if htmx:  # a live page asking again: drawn once per version for every page that shows the same list
        version, html = shown.draw()
        if request.args.get("v") == version:
            return "", 204
        return html
    calendars = queries.calendar_options(shown.sub)
    calendar_names = dict(calendars)
    return render_template("appointments/index.html", calendars=calendars,
                           calendar_label=calendar_names.get(shown.args["calendar"]), **shown.context())


# ------------------------------------------------------------------ one appointment
def _refuse_managed_in_calendly(appointment):
    """E3: 409 for any change to a Calendly appointment, in the form the caller reads."""
    message = service.MANAGED_IN_CALENDLY
    if wants_json() or htmx:
        return error_response(409, message)
    flash(message, "error")
    return _detail_response(appointment, status=409)


def _detail_response(appointment, status=200):
    changes = list(appointment.status_changes.order_by(StatusChange.id))
    return render_template(
        "appointments/appointment.html", a=appointment,
        guests=queries.guests(appointment), sources=queries.sources(appointment),
        rescheduled_from=queries.rescheduled_from(appointment),
        status_history=details.history(appointment, changes),
        calendly_link=details.calendly_link(appointment, current_app.config),
        location=details.location(appointment), hosts=details.hosts(appointment),
        owner_reason=details.owner_reason(appointment),
        settable=[(s, s.label) for s in PORTAL_SETTABLE],
    ), status


@bp.route("/appointments/<int:appointment_id>/status", methods=["POST"])
@subaccount_required
def set_status(appointment_id):
    """Portal-made appointments only (E3): Booked, Confirmed, Showed, No-show, Cancelled."""
    a = get_scoped_or_404(Appointment, appointment_id)
    if a.is_managed_in_calendly:
        return _refuse_managed_in_calendly(a)
    try:
        if service.set_status(a, request.form.get("status"), current_user._get_current_object()):
            workflows.kick_if_pending()
            flash(f"Status: {AppointmentStatus(a.status).label}.", "success")
    except service.StatusNotAllowed as exc:
        flash(str(exc), "error")
    return redirect(url_for("appointments.appointment", appointment_id=a.id), 303)


def _form_from_appointment(appointment, formdata=None):
    contact = appointment.contact
    return AppointmentForm.from_utc(
        formdata=formdata,
        data={"title": appointment.title, "start": appointment.start, "end": appointment.end,
              "notes": appointment.notes, "contact_email": contact.email if contact else "",
              "contact_name": contact.name if contact else ""},
    )


def _sent_fields():
    """What the caller sent: a form, or a JSON object from an API client."""
    if request.is_json:
        body = request.get_json(silent=True)
        return MultiDict({k: "" if v is None else str(v) for k, v in body.items()} if isinstance(body, dict) else {})
    return request.form


def _patch_formdata(appointment):
    """PATCH: fields not sent keep their current value."""
    merged = _form_from_appointment(appointment).data
    for name in ("start", "end"):
        merged[name] = merged[name].strftime("%Y-%m-%dT%H:%M") if merged[name] else ""
    current = MultiDict({k: v or "" for k, v in merged.items()})
    sent = _sent_fields()
    for key in sent:
        current.setlist(key, sent.getlist(key))
    return current


def _update(appointment):
    """Validate and save a portal appointment, or show the form again with the errors."""
    formdata = _patch_formdata(appointment) if request.method == "PATCH" else _sent_fields()
    form = AppointmentForm(formdata=formdata)
    if not form.validate():
        if wants_json():
            return {"errors": form.errors}, 422
        return render_template("appointments/form.html", form=form, a=appointment), 422
    service.update_appointment(appointment, form.utc_data(), current_user)
    workflows.kick_if_pending()
    if wants_json():
        return {"id": appointment.id, "title": appointment.title}, 200
    flash("Appointment updated.", "success")
    target = url_for("appointments.appointment", appointment_id=appointment.id)
    if htmx:
        return make_response("", 200, redirect=target)
    return redirect(target, 303)


def _delete(appointment):
    service.delete_appointment(appointment, current_user)
    workflows.kick_if_pending()
    if wants_json():
        return "", 204
    flash(f"Appointment “{appointment.title}” deleted.", "success")
    target = url_for("appointments.index")
    if htmx:
        return make_response("", 200, redirect=target)
    return redirect(target, 303)


@bp.route("/appointments/<int:appointment_id>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
@subaccount_required
def appointment(appointment_id):
    a = get_scoped_or_offer(Appointment, appointment_id)  # another own subaccount's: the offer to switch
    if request.method == "GET":
        return _detail_response(a)
    if a.is_managed_in_calendly:
        return _refuse_managed_in_calendly(a)
    if request.method == "DELETE":
        return _delete(a)
    return _update(a)


def _portal_appointment(appointment_id):
    """``(appointment, None)`` when it may be changed here, else ``(appointment, refusal)`` (E3).

    Opening the edit or delete page of a Calendly appointment leads back to it
    with the explanation; any change request gets 409.
    """
    a = get_scoped_or_404(Appointment, appointment_id)
    if not a.is_managed_in_calendly:
        return a, None
    if request.method == "GET":
        flash(service.MANAGED_IN_CALENDLY, "warning")
        return a, redirect(url_for("appointments.appointment", appointment_id=a.id))
    return a, _refuse_managed_in_calendly(a)


@bp.route("/appointments/<int:appointment_id>/edit", methods=["GET", "POST", "PUT", "PATCH"])
@subaccount_required
def edit(appointment_id):
    a, refusal = _portal_appointment(appointment_id)
    if refusal:
        return refusal
    if request.method == "GET":
        return render_template("appointments/form.html", form=_form_from_appointment(a), a=a)
    return _update(a)


@bp.route("/appointments/<int:appointment_id>/delete", methods=["GET", "POST", "DELETE"])
@subaccount_required
def delete(appointment_id):
    """GET asks for confirmation (a modal for HTMX); POST/DELETE deletes."""
    a, refusal = _portal_appointment(appointment_id)
    if refusal:
        return refusal
    if request.method == "GET":
        template = "appointments/_confirm_delete.html" if htmx else "appointments/confirm_delete.html"
        return render_template(template, a=a)
    return _delete(a)


@bp.route("/appointments/new", methods=["GET", "POST"])
@subaccount_required
def new():
    """A portal appointment (E6): kept in the portal, never sent to Calendly."""
    form = AppointmentForm(formdata=request.form if request.method == "POST" else None)
    if request.method == "GET":
        start = (utcnow() + timedelta(hours=1)).replace(minute=0, second=0, microsecond=0)
        form = AppointmentForm.from_utc(data={"start": start, "end": start + timedelta(minutes=30),
                                     "contact_email": request.args.get("contact_email", ""),
                                     "contact_name": request.args.get("contact_name", "")})
        return render_template("appointments/form.html", form=form, a=None)
    if not form.validate():
        return render_template("appointments/form.html", form=form, a=None), 422
    a = service.create_appointment(current_subaccount(), current_user._get_current_object(), form.utc_data())
    workflows.kick_if_pending()
    flash("Appointment created. It stays in the portal and is not sent to Calendly.", "success")
    return redirect(url_for("appointments.appointment", appointment_id=a.id), 303)
