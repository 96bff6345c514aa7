"""The Workflows list and builder: admins edit, users read (issue 14; T2: another subaccount's is 404)."""
from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from portal.automation import matching, step_settings
from portal.extensions import htmx
from portal.models import Workflow, WorkflowStatus
from portal.tenancy import admin_required, current_role, current_subaccount, get_scoped_or_404, subaccount_required
from portal.workflows import bp, service


def builder_context(workflow, **extra):
    sub = current_subaccount()
    people = service.members(sub)
    return dict(w=workflow, steps=service.steps(workflow), triggers=service.TRIGGERS,
                statuses=service.STATUS_LABELS, chosen_statuses=matching.statuses_of(workflow),
                calendars=service.calendars(sub), members=people, labels=step_settings.LABELS,
                summary=lambda s: step_settings.summary(s, {str(u.id): u.display_name for u in people}),
                can_edit=current_role() == "admin", **extra)


@bp.route("/")
@subaccount_required
def index():
    return render_template("workflows/index.html", rows=service.listing(current_subaccount()),
                           triggers=service.TRIGGERS, can_edit=current_role() == "admin")


@bp.route("/new", methods=["POST"])
@admin_required
def new():
    try:
        workflow = service.create(current_subaccount(), request.form.get("name"), current_user.id)
    except service.Invalid as exc:
        flash(str(exc), "error")
        return redirect(url_for("workflows.index"), 303)
    return redirect(url_for("workflows.builder", workflow_id=workflow.id), 303)


@bp.route("/<int:workflow_id>")
@subaccount_required
def builder(workflow_id):
    workflow = get_scoped_or_404(Workflow, workflow_id)
    return render_template("workflows/builder.html", **builder_context(workflow))


@bp.route("/<int:workflow_id>/settings", methods=["POST"])
@admin_required
def settings(workflow_id):
    workflow = get_scoped_or_404(Workflow, workflow_id)
    try:
        service.update_settings(workflow, request.form, current_user.id)
    except service.Invalid as exc:
        flash(str(exc), "error")
    else:
        flash("Workflow saved.", "success")
    return redirect(url_for("workflows.builder", workflow_id=workflow.id), 303)


@bp.route("/<int:workflow_id>/status", methods=["POST"])
@admin_required
def status(workflow_id):
    workflow = get_scoped_or_404(Workflow, workflow_id)
    wanted = request.form.get("status")
    if wanted not in set(WorkflowStatus):
        abort(400)
    try:
        service.set_status(workflow, wanted, current_user.id)
    except service.Invalid as exc:
        flash(str(exc), "error")
    else:
        flash({"published": "Published: new events from now on start it.", "paused": "Paused.",
               "draft": "Back to draft."}[wanted], "success")
    return redirect(url_for("workflows.builder", workflow_id=workflow.id), 303)


def steps_response(workflow, status=200, **extra):
    """The steps list (HTMX) or the builder page."""
    context = builder_context(workflow, **extra)
    if htmx:
        return render_template("workflows/_steps.html", **context), status
    return render_template("workflows/builder.html", **context), status


def allow_private():
    return bool(current_app.config.get("WEBHOOK_ALLOW_PRIVATE"))
