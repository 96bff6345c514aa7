"""My tasks (due dates, Done) and notifications (the bell's unread count); T2: another's is 404."""
from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from portal.models import Contact, FollowUpTask, Notification
from portal.models.audit import record
from portal.tasks import bp
from portal.tenancy import current_subaccount, get_scoped_or_404, subaccount_required
from portal.timeutil import utcnow


@bp.app_context_processor
def _bell():
    if not current_user.is_authenticated:
        return {}
    sub = current_subaccount()
    if sub is None:
        return {}
    unread = Notification.select().where((Notification.user == current_user.id) & (Notification.subaccount == sub)
                                         & Notification.read_at.is_null()).count()
    return {"unread_notifications": unread}


@bp.route("/")
@subaccount_required
def mine():
    show_done = request.args.get("done") == "1"
    query = (FollowUpTask.select(FollowUpTask, Contact).join(Contact)
             .where((FollowUpTask.subaccount == current_subaccount()) & (FollowUpTask.assignee == current_user.id)))
    query = query.where(FollowUpTask.done_at.is_null(False) if show_done else FollowUpTask.done_at.is_null())
    tasks = list(query.order_by(FollowUpTask.due_at.asc(nulls="LAST"), FollowUpTask.id).limit(200))
    return render_template("tasks/mine.html", tasks=tasks, show_done=show_done, now=utcnow())


@bp.route("/<int:follow_up_id>/done", methods=["POST"])
@subaccount_required
def done(follow_up_id):
    task = get_scoped_or_404(FollowUpTask, follow_up_id)
    FollowUpTask.update(done_at=utcnow()).where((FollowUpTask.id == task.id) & FollowUpTask.done_at.is_null()).execute()
    record("task.done", actor=current_user.id, subaccount=task.subaccount_id, target=task.title)
    flash(f"Done: {task.title}", "success")
    back = request.form.get("back")
    return redirect(url_for("contacts.detail", contact_id=task.contact_id) if back == "contact"
                    else url_for("tasks.mine"), 303)


@bp.route("/notifications")
@subaccount_required
def notifications():
    sub = current_subaccount()
    items = list(Notification.select().where((Notification.user == current_user.id) & (Notification.subaccount == sub))
                 .order_by(Notification.id.desc()).limit(100))
    return render_template("tasks/notifications.html", items=items)


@bp.route("/notifications/read", methods=["POST"])
@subaccount_required
def read_all():
    Notification.update(read_at=utcnow()).where((Notification.user == current_user.id)
                                               & (Notification.subaccount == current_subaccount())
                                               & Notification.read_at.is_null()).execute()
    return redirect(url_for("tasks.notifications"), 303)


@bp.route("/notifications/<int:notification_id>")
@subaccount_required
def open_notification(notification_id):
    item = get_scoped_or_404(Notification, notification_id)
    if item.user_id != current_user.id:
        abort(404)
    Notification.update(read_at=utcnow()).where(Notification.id == item.id).execute()
    return redirect(item.link or url_for("tasks.notifications"), 303)
