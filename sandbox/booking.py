"""Public pages an invitee sees: booking pages (each event type's scheduling_url),
the confirmation, cancel and reschedule pages, and a small home page."""
from datetime import date

from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for

from . import scheduling
from .oauth import check_csrf
from .scheduling import SchedulingError
from .serializers import invitee_resource
from .store import EventType, EventTypeHost, Invitee, ScheduledEvent, User, isoformat, parse_time

bp = Blueprint("booking", __name__)

UTM_KEYS = ("utm_campaign", "utm_source", "utm_medium", "utm_content", "utm_term", "salesforce_uuid")


@bp.app_template_filter("when")
def _when(dt, fmt="%A, %d %B %Y"):
    return dt.strftime(fmt)


@bp.get("/")
def home():
    from .demo import DEMO_ACCOUNTS

    event_types = (EventType.select().where(EventType.active == True, EventType.secret == False,  # noqa: E712
                                            EventType.deleted_at.is_null()).order_by(EventType.name).limit(50))
    demo = DEMO_ACCOUNTS if current_app.config.get("SANDBOX_DEMO") else []
    return render_template("home.html", event_types=event_types, demo=demo)


@bp.get("/people/<slug>")
def person(slug):
    user = User.get_or_none(User.slug == slug) or abort(404)
    hosted = EventTypeHost.select(EventTypeHost.event_type).where(EventTypeHost.user == user)
    event_types = EventType.select().where(EventType.id.in_(hosted), EventType.active == True,  # noqa: E712
                                           EventType.secret == False, EventType.deleted_at.is_null())  # noqa: E712
    return render_template("person.html", user=user, event_types=event_types.order_by(EventType.position,
                                                                                      EventType.name))


def _event_type(slug):
    event_type = EventType.get_or_none(EventType.slug == slug)
    if event_type is None or event_type.deleted_at is not None or not event_type.active:
        abort(404)
    return event_type


def _slot_picker(event_type, chosen_date=None, selected=None):
    """Days with free times, the chosen day, and its free start times."""
    slots = scheduling.available_slots(event_type)
    days = sorted({s.date() for s in slots})
    day = None
    if chosen_date:
        try:
            day = date.fromisoformat(chosen_date)
        except ValueError:
            day = None
    if day not in days:
        day = selected.date() if selected and selected.date() in days else (days[0] if days else None)
    times = [s for s in slots if s.date() == day]
    return {"days": days, "day": day, "times": times, "selected": selected, "iso": isoformat}


def _parse_answers(event_type, form):
    answers, errors = [], {}
    for i, question in enumerate(event_type.custom_questions or []):
        if not question.get("enabled", True):
            continue
        field = f"q_{i}"
        if question["type"] == "multi_select":
            answer = "\n".join(v for v in form.getlist(field) if v)
        else:
            answer = (form.get(field) or "").strip()
        if not answer:
            if question.get("required"):
                errors[field] = "Can't be blank."
            continue
        answers.append({"question": question["name"], "answer": answer, "position": question.get("position", i)})
    return answers, errors


def _parse_start(form):
    try:
        return parse_time(form.get("start_time", ""))
    except ValueError:
        return None


@bp.route("/book/<slug>", methods=["GET", "POST"])
def book(slug):
    event_type = _event_type(slug)
    hosts = scheduling.hosts_of(event_type)
    form, errors, start = request.form, {}, None
    if request.method == "POST":
        check_csrf()
        start = _parse_start(form)
        if start is None:
            errors["start_time"] = "Select a time for your meeting."
        name, email = form.get("name", "").strip(), form.get("email", "").strip()
        if not name:
            errors["name"] = "Can't be blank."
        if "@" not in email or "." not in email.split("@")[-1]:
            errors["email"] = "Enter a valid email address."
        guests = [g.strip() for g in form.get("guests", "").replace(";", ",").split(",") if g.strip()]
        if any("@" not in g for g in guests):
            errors["guests"] = "Separate guest emails with commas."
        answers, question_errors = _parse_answers(event_type, form)
        errors.update(question_errors)
        if not errors:
            tracking = {k: form.get(k) or None for k in UTM_KEYS}
            try:
                invitee = scheduling.book(
                    event_type, start, name, email, guests=guests, questions_and_answers=answers,
                    timezone=form.get("timezone") or "UTC", text_reminder_number=form.get("phone", "").strip(),
                    tracking=tracking, check_availability=True)
            except SchedulingError as exc:
                errors["start_time"] = str(exc)
            else:
                return redirect(url_for("booking.scheduled", slug=slug, invitee=invitee.uuid))
    picker = _slot_picker(event_type, request.args.get("date"), start)
    utm = {k: request.values.get(k, "") for k in UTM_KEYS}
    status = 400 if errors else 200
    return render_template("book.html", event_type=event_type, hosts=hosts, picker=picker, form=form,
                           errors=errors, utm=utm), status


@bp.get("/book/<slug>/scheduled/<invitee>")
def scheduled(slug, invitee):
    row = Invitee.get_or_none(Invitee.uuid == invitee) or abort(404)
    return render_template("scheduled.html", invitee=row, event=row.event, resource=invitee_resource(row),
                           hosts=[m.user for m in row.event.memberships], heading="You are scheduled")


@bp.route("/cancellations/<uuid>", methods=["GET", "POST"])
def cancel(uuid):
    invitee = Invitee.get_or_none(Invitee.uuid == uuid) or abort(404)
    error = None
    if request.method == "POST" and invitee.status == "active":
        check_csrf()
        try:
            scheduling.cancel(invitee, reason=request.form.get("reason") or None, canceler_type="invitee")
        except SchedulingError as exc:
            error = str(exc)
        invitee = Invitee.get_by_id(invitee.id)
    return render_template("cancel.html", invitee=invitee, event=invitee.event, error=error,
                           hosts=[m.user for m in invitee.event.memberships])


@bp.route("/reschedulings/<uuid>", methods=["GET", "POST"])
def reschedule(uuid):
    invitee = Invitee.get_or_none(Invitee.uuid == uuid) or abort(404)
    event_type = invitee.event.event_type
    errors, start = {}, None
    if request.method == "POST" and invitee.status == "active":
        check_csrf()
        start = _parse_start(request.form)
        if start is None:
            errors["start_time"] = "Select a time for your meeting."
        else:
            try:
                new = scheduling.reschedule(invitee, start, check_availability=True)
            except SchedulingError as exc:
                errors["start_time"] = str(exc)
            else:
                return redirect(url_for("booking.scheduled", slug=event_type.slug, invitee=new.uuid))
    picker = _slot_picker(event_type, request.args.get("date"), start)
    return render_template("reschedule.html", invitee=invitee, event=invitee.event, event_type=event_type,
                           picker=picker, errors=errors, hosts=scheduling.hosts_of(event_type)), (
        400 if errors else 200)


@bp.get("/meet/<uuid>")
def meet(uuid):
    event = ScheduledEvent.get_or_none(ScheduledEvent.uuid == uuid) or abort(404)
    return render_template("meet.html", event=event)
