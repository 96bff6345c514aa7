"""Adding, moving and removing a workflow's steps (HTMX swaps the steps list; plain forms work too)."""
from flask import render_template, request
from flask_login import current_user

from portal.automation import step_settings
from portal.extensions import htmx
from portal.models import Workflow
from portal.tenancy import admin_required, current_subaccount, get_scoped_or_404
from portal.workflows import bp, service
from portal.workflows.views import allow_private, steps_response


@bp.route("/<int:workflow_id>/steps/new")
@admin_required
def step_form(workflow_id):
    workflow = get_scoped_or_404(Workflow, workflow_id)
    kind = request.args.get("kind")
    if kind not in step_settings.LABELS:
        kind = "add_tag"
    return render_template("workflows/_step_form.html", w=workflow, kind=kind, labels=step_settings.LABELS,
                           members=service.members(current_subaccount()), form=request.args, error=None)


@bp.route("/<int:workflow_id>/steps", methods=["POST"])
@admin_required
def add_step(workflow_id):
    workflow = get_scoped_or_404(Workflow, workflow_id)
    kind = request.form.get("kind")
    try:
        step, secret = service.add_step(workflow, kind, request.form, current_user.id, allow_private())
    except service.Invalid as exc:
        # The form comes back with the refusal naming the field (and line), where it was typed.
        body = render_template("workflows/_step_form.html", w=workflow, kind=kind, labels=step_settings.LABELS,
                               members=service.members(current_subaccount()), form=request.form, error=str(exc))
        if htmx:
            return body, 422, {"HX-Retarget": "#step-editor", "HX-Reswap": "innerHTML"}
        return steps_response(workflow, 422, step_error=str(exc))
    return steps_response(workflow, new_secret=secret, new_step=step)


@bp.route("/<int:workflow_id>/steps/<int:step_id>/move", methods=["POST"])
@admin_required
def move_step(workflow_id, step_id):
    workflow = get_scoped_or_404(Workflow, workflow_id)
    offset = -1 if request.form.get("direction") == "up" else 1
    try:
        service.move_step(workflow, step_id, offset, current_user.id)
    except service.Invalid as exc:
        return steps_response(workflow, 404, step_error=str(exc))
    return steps_response(workflow)


@bp.route("/<int:workflow_id>/steps/<int:step_id>/remove", methods=["POST"])
@admin_required
def remove_step(workflow_id, step_id):
    workflow = get_scoped_or_404(Workflow, workflow_id)
    service.remove_step(workflow, step_id, current_user.id)
    return steps_response(workflow)
