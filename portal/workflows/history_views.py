"""A workflow's history (enrolments and their steps), Retry of a Failed enrolment, and the test run."""
from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user

from portal.models import Contact, Enrolment, EnrolmentState, StepRun, Workflow, normalize_email
from portal.models.audit import record
from portal.pipeline import workflows as engine
from portal.tenancy import admin_required, current_subaccount, get_scoped_or_404, subaccount_required
from portal.workflows import bp, service, test_run

PAGE = 100


@bp.route("/<int:workflow_id>/history")
@subaccount_required
def history(workflow_id):
    workflow = get_scoped_or_404(Workflow, workflow_id)
    contact_q = (request.args.get("contact") or "").strip()[:254]
    outcome = request.args.get("outcome") or ""
    query = (Enrolment.select(Enrolment, Contact).join(Contact, on=(Enrolment.contact == Contact.id), attr="c")
             .where(Enrolment.workflow == workflow.id))
    if contact_q:
        query = query.where(Contact.email_normalized.contains(normalize_email(contact_q))
                            | Contact.name.contains(contact_q))
    if outcome in set(EnrolmentState):
        query = query.where(Enrolment.state == outcome)
    rows = list(query.order_by(Enrolment.id.desc()).limit(PAGE))
    return render_template("workflows/history.html", w=workflow, rows=rows, contact_q=contact_q, outcome=outcome,
                           states=list(EnrolmentState))


@bp.route("/enrolments/<int:enrolment_id>")
@subaccount_required
def enrolment(enrolment_id):
    e = get_scoped_or_404(Enrolment, enrolment_id)
    runs = list(StepRun.select().where(StepRun.enrolment == e.id).order_by(StepRun.position))
    return render_template("workflows/enrolment.html", e=e, w=e.workflow, runs=runs)


@bp.route("/enrolments/<int:enrolment_id>/retry", methods=["POST"])
@admin_required
def retry(enrolment_id):
    e = get_scoped_or_404(Enrolment, enrolment_id)
    if engine.retry(e):
        record("workflow.retry", actor=current_user.id, subaccount=e.subaccount_id, target=e.workflow.name,
               detail=f"enrolment {e.id}")
        flash("Retrying from the step that failed.", "success")
    else:
        flash("This enrolment is not Failed.", "info")
    return redirect(url_for("workflows.enrolment", enrolment_id=e.id), 303)


@bp.route("/<int:workflow_id>/test", methods=["POST"])
@admin_required
def test(workflow_id):
    workflow = get_scoped_or_404(Workflow, workflow_id)
    email = normalize_email(request.form.get("contact_email"))[:254]
    contact = Contact.get_or_none((Contact.subaccount == current_subaccount()) & (Contact.email_normalized == email))
    if contact is None:
        flash("No contact with that email in this subaccount.", "error")
        return redirect(url_for("workflows.builder", workflow_id=workflow.id), 303)
    names = {str(u.id): u.display_name for u in service.members(current_subaccount())}
    appointment, lines = test_run.simulate(service.steps(workflow), contact, names)
    return render_template("workflows/test_run.html", w=workflow, contact=contact, appointment=appointment,
                           lines=lines)
