"""Edit, Disconnect, deletion progress and the Activity tab (SPEC D1-D5, S1).

Edit and Disconnect are HTMX modals over the Connections page (full pages
without JavaScript). Saving an Edit that removes calendars first answers
with the Keep / Delete question; the answers come back with the same form.
Only the connection's own user may change it; anyone else gets 404 (T2).
"""
from flask import abort, flash, render_template, request, url_for
from flask_htmx.responses import HTMXResponseStopPolling
from flask_login import current_user
from peewee import JOIN

from portal import activity_words, params
from portal.connections import bp, removal
from portal.pipeline import disconnect as disconnection
from portal.connections.service import SelectionProblem
from portal.connections.views import (
    Modal,
    _own_connection_or_404,
    _selection_modal,
    _to_index,
    backfill_switch_from_form,
    save_backfill_switch,
    show,
)
from portal.extensions import htmx
from portal.models import AuditEntry, CalendlyConnection, Status, Task, TaskState, User
from portal.pipeline import purge
from portal.sync.deletion import KEEP
from portal.tenancy import admin_required, current_role, current_subaccount, get_scoped_or_404, subaccount_required

ACTIVITY_PER_PAGE = 50
# The audit actions a subaccount's admins see, in plain words (D5).
ACTIVITY_LABELS = {
    "calendar.delete": "Removed a calendar, deleting its events",
    "calendar.keep": "Removed a calendar, keeping its events",
    "calendar.purged": "Events deleted",
    "calendar.add": "Added a calendar",
    "connection.disconnect": "Disconnected Calendly",
    "member.remove": "Removed a member",
    "calendly.connect": "Connected Calendly",
    "calendly.authorize": "Signed in to Calendly",
    "calendly.reconnect": "Reconnected Calendly",
    "calendly.refused": "Calendly connection refused",
    "calendar.renamed_in_calendly": "Calendar renamed in Calendly",
    "calendar.deleted_in_calendly": "Calendar deleted in Calendly",
    "calendar.restored_in_calendly": "Calendar back in Calendly",
}


def _live_connection_or_404(connection_id):
    connection = _own_connection_or_404(connection_id)
    if connection.status == Status.DISCONNECTED:
        abort(404)
    return connection


def _disconnectable_or_404(connection_id):
    """One's own live connection; an admin may also disconnect another member's (issue 15), answering for them."""
    if current_role() != "admin":
        return _live_connection_or_404(connection_id)
    connection = get_scoped_or_404(CalendlyConnection, connection_id)
    if connection.status == Status.DISCONNECTED:
        abort(404)
    return connection


# ------------------------------------------------------------------ Edit (D1, D2, W3, W4)
@bp.route("/connections/<int:connection_id>/edit", methods=["GET", "POST"])
@subaccount_required
def edit(connection_id):
    connection = _live_connection_or_404(connection_id)
    if connection.connected_at is None:
        return show(_selection_modal(connection))  # setup not finished: the first Save's modal
    if request.method == "GET":
        return show(_selection_modal(connection))

    options, notice = removal.edit_options(connection)
    chosen = request.form.getlist("event_type")
    step = request.form.get("step", "choose")
    switch = backfill_switch_from_form()
    switch_changed = switch is not None and switch != bool(connection.backfill_starts_workflows)
    if step != "back" and not set(chosen) & {o.uri for o in options}:
        # Unticking every calendar means stopping the import: offer Disconnect in place, not an error.
        return show(_question(connection, list(connection.current_selections()), disconnect=True,
                              from_edit=True))
    try:
        plan = removal.plan_edit(connection, options, chosen)
    except SelectionProblem as exc:
        return show(_selection_modal(connection, offered=options, chosen=chosen, error=exc.message,
                                       notice=notice, backfill_on=switch), exc.status_code)
    if step == "back":
        return show(_selection_modal(connection, offered=options, chosen=chosen, notice=notice, backfill_on=switch))
    if not plan.changed:
        if switch_changed:
            save_backfill_switch(connection, switch)
        else:
            flash("No changes: the same calendars are still imported.", "info")
        return _to_index()

    asked, silent = removal.with_events(connection, plan.removed)
    answers = {s.event_type_uri: KEEP for s in silent}  # nothing imported from these: nothing to ask
    if asked:
        given, problem = removal.read_answers(request.form, asked)
        answers.update(given)
        if step != "confirm" or problem:
            return show(_question(connection, asked, chosen=[o.uri for o in options if o.uri in chosen],
                                    answers=answers, error=problem if step == "confirm" else None,
                                    added=plan.added, backfill_on=switch),
                          422 if step == "confirm" else 200)
    for category, text in removal.apply_edit(connection, plan, answers, current_user.id):
        flash(text, category)
    if switch_changed:
        save_backfill_switch(connection, switch)
    return _to_index()


def _question(connection, selections, *, chosen=(), answers=None, error=None, added=(), disconnect=False,
              backfill_on=None, from_edit=False):
    """The Keep / Delete question (D2), or for Disconnect the one question for every calendar (D3).

    For Disconnect, calendars with no imported events are listed apart and need no answer.
    """
    action = "connections.disconnect" if disconnect else "connections.edit"
    questions = removal.questions(connection, selections)
    return Modal("connections/_removal_modal.html", dict(
        connection=connection,
        questions=[q for q in questions if q.count or not disconnect],
        empty=[q for q in questions if not q.count] if disconnect else [],
        from_edit=from_edit,
        chosen=list(chosen),
        added=added,
        answers=answers or {},
        error=error,
        disconnect=disconnect,
        action=url_for(action, connection_id=connection.id),
        backfill_on=backfill_on,  # the selection modal's switch, carried to the confirming Save
    ))


# ------------------------------------------------------------------ Disconnect (D3, C7)
@bp.route("/connections/<int:connection_id>/disconnect", methods=["GET", "POST"])
@subaccount_required
def disconnect(connection_id):
    connection = _disconnectable_or_404(connection_id)
    selections = list(connection.current_selections()) if connection.connected_at else []
    if request.method == "GET":
        return show(_question(connection, selections, disconnect=True))
    answer = request.form.get("answer")
    asked, _ = removal.with_events(connection, selections)
    if not asked and answer not in removal.CHOICES:
        answer = KEEP  # no calendar has imported events: there is nothing to keep or delete
    if asked and answer not in removal.CHOICES:
        return show(_question(connection, selections, disconnect=True, error=removal.ANSWER_MISSING.format(
            names="the events synced from Calendly")), 422)
    for category, text in disconnection.disconnect(connection, answer, current_user.id):
        flash(text, category)
    return _to_index()


# ------------------------------------------------------------------ deletion progress (D5)
def _task_or_404(task_id):
    """A purge of this subaccount that the user started, or any of them for an admin."""
    extra = [Task.kind == purge.PURGE_KIND]
    if current_role() != "admin":
        extra.append(Task.requested_by == current_user.id)
    return get_scoped_or_404(Task, task_id, *extra)


@bp.route("/tasks/<int:task_id>")
@subaccount_required
def task(task_id):
    """The progress of one deletion; polled every second, 286 stops the polling once it ended."""
    row = _task_or_404(task_id)
    html = render_template("connections/_task.html", task=row)
    if row.state in purge.ACTIVE_TASK_STATES:
        return html
    return HTMXResponseStopPolling(html)


@bp.route("/tasks/<int:task_id>/retry", methods=["POST"])
@subaccount_required
def retry_task(task_id):
    """Queue a failed deletion again; it goes on from where it stopped."""
    row = _task_or_404(task_id)
    if row.state == TaskState.FAILED:
        purge.enqueue_purge(row)
    html = render_template("connections/_task.html", task=Task.get_by_id(row.id))
    return html if htmx else _to_index()


# ------------------------------------------------------------------ Activity (D5, admins)
@bp.route("/activity")
@admin_required
def activity():
    """The subaccount's audit log: who removed, kept, deleted or disconnected what, when, how many."""
    sub = current_subaccount().id
    page = params.page_number()
    query = (AuditEntry.select(AuditEntry, User).join(User, JOIN.LEFT_OUTER, on=(AuditEntry.actor == User.id))
             .where(AuditEntry.subaccount == sub))
    total = query.count()
    entries = list(query.order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).paginate(page, ACTIVITY_PER_PAGE))
    pages = max((total + ACTIVITY_PER_PAGE - 1) // ACTIVITY_PER_PAGE, 1)
    return render_template("connections/activity.html", entries=entries, labels=ACTIVITY_LABELS, page=page,
                           pages=pages, total=total, activity_sentence=activity_words.sentence,
                           activity_detail=activity_words.detail)
