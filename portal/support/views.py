"""The support console (SPEC S1, S2): support staff only (T1); everyone else gets 404.

Everything here is read-only except Resync now and Retry, which are POSTs
(CSRF) and are written to the audit log.
"""
from flask import abort, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user
from peewee import JOIN
from redis.exceptions import RedisError

from portal import params, restarts
from portal.extensions import htmx
from portal.models import AuditEntry, DeliveryState, Enrolment, Status, Subaccount, User, WebhookDelivery
from portal.models.audit import record
from portal.support import bp, chart, enrolments, overview, recovery, terms, timeline
from portal.support.redaction import connection_secrets, redact
from portal.support.trace import TraceQueryError, is_imported, trace
from portal.tenancy import support_required
from portal.timeutil import to_iso, utcnow

AUDIT_PER_PAGE = 50


@bp.context_processor
def _support_context():
    return {"terms": terms, "Status": Status}


def _filter_from_request():
    status = request.args.get("status", "")
    return overview.Filter(status=status if status in terms.STATUS_ORDER else "",
                           q=request.args.get("q", "").strip()[:200])


def _page_number():
    return params.page_number()


@bp.route("/")
@support_required
def index():
    """Every subaccount's connections with their sync figures."""
    flt = _filter_from_request()
    page = _page_number()
    now = utcnow()
    total = overview.count(flt)
    context = dict(
        filter=flt,
        healths=overview.list_health(flt, page, now=now),
        total=total,
        page=page,
        pages=max((total + overview.PER_PAGE - 1) // overview.PER_PAGE, 1),
        now=now,
        status_counts=overview.status_counts(),
    )
    if htmx:
        return render_template("support/_connections.html", **context)
    return render_template(
        "support/index.html",
        queues=recovery.queue_stats(),
        inbox=overview.inbox_totals(),
        processes=restarts.read(current_app.instance_path),
        **context,
    )


def _health_or_404(connection_id, now=None):
    health = overview.get_health(connection_id, now=now)
    if health is None:
        abort(404)
    return health


@bp.route("/connections/<int:connection_id>")
@support_required
def connection(connection_id):
    """One connection: figures, chart, failed work with Retry, timeline, Resync now."""
    now = utcnow()
    health = _health_or_404(connection_id, now)
    conn = health.connection
    secrets = connection_secrets([conn.id])
    redis_error = None
    jobs, job_states = [], {}
    try:
        jobs = recovery.failed_jobs(conn, secrets)
        job_states = recovery.job_states(conn.id)
    except RedisError as exc:
        redis_error = str(exc)
    first_hour, counts = timeline.imports_per_hour(conn, now)
    timeline_limit = timeline.LONG if request.args.get("timeline") == "long" else timeline.SHORT
    busy = (any(s in recovery.ACTIVE for s in job_states.values())
            or health.pending > 0 or conn.status == Status.IMPORTING)
    context = dict(
        health=health,
        conn=conn,
        now=now,
        chart=chart.hourly_bars(first_hour, counts),
        entries=timeline.recent(conn, limit=timeline_limit, secrets=secrets),
        timeline_limit=timeline_limit,
        tasks=timeline.recent_tasks(conn),
        failed_deliveries=recovery.failed_deliveries(conn, secrets),
        failed_jobs=jobs,
        job_states=job_states,
        redis_error=redis_error,
        busy=busy,
    )
    if htmx:
        return render_template("support/_connection_body.html", **context)
    return render_template("support/connection.html", **context)


@bp.route("/connections/<int:connection_id>/resync", methods=["POST"])
@support_required
def resync(connection_id):
    """Run the reconciliation of this connection now (S2 "resync now")."""
    conn = _health_or_404(connection_id).connection
    back = redirect(url_for("support.connection", connection_id=conn.id))
    if conn.status in (Status.DISCONNECTED, Status.PENDING):
        flash(f"This connection is {conn.status_label.lower()}: there is nothing to resync.", "warning")
        return back
    try:
        started = recovery.resync(conn)
    except RedisError:
        flash("The job queue (Redis) cannot be reached; nothing was started. Try again in a moment.", "error")
        return back
    if not started:
        flash("A resync of this connection is already queued or running.", "info")
        return back
    record("support.resync", actor=current_user.id, subaccount=conn.subaccount_id,
           target=f"connection #{conn.id} ({conn.calendly_email or conn.calendly_user_uri})", count=1)
    flash("Resync started", "success")
    return back


@bp.route("/connections/<int:connection_id>/retry", methods=["POST"])
@support_required
def retry(connection_id):
    """Retry one failed delivery (back to the inbox) or one failed RQ job (requeue)."""
    conn = _health_or_404(connection_id).connection
    back = redirect(url_for("support.connection", connection_id=conn.id) + "#failed")
    delivery_id = request.form.get("delivery", type=params.db_id)
    job_id = request.form.get("job", "").strip()
    try:
        if delivery_id:
            delivery = WebhookDelivery.get_or_none(
                (WebhookDelivery.id == delivery_id) & (WebhookDelivery.connection == conn.id)
            )
            if delivery is None:
                abort(404)
            if delivery.state != DeliveryState.FAILED:
                flash(f"Delivery #{delivery.id} is no longer failed ({delivery.state}); nothing to retry.", "info")
                return back
            target = f"delivery #{delivery.id}"
            if recovery.retry_delivery(delivery):
                done = f"Delivery #{delivery.id} queued again."
            else:
                done = (f"Delivery #{delivery.id} is back in the inbox; the job queue is unreachable, "
                        "so it will be applied as soon as Redis is back.")
        elif job_id:
            if recovery.retry_job(conn, job_id) is None:
                flash("That job is no longer in the failed list; nothing to retry.", "info")
                return back
            target, done = f"job {job_id}", f"Job {job_id} queued again."
        else:
            flash("Choose a failed delivery or job to retry.", "error")
            return back
    except RedisError:
        flash("The job queue (Redis) cannot be reached; nothing was retried. Try again in a moment.", "error")
        return back
    record("support.retry", actor=current_user.id, subaccount=conn.subaccount_id,
           target=f"{target} of connection #{conn.id}", count=1)
    flash(done, "success")
    return back


@bp.route("/trace")
@support_required
def trace_view():
    """Why a booking was or was not imported, everywhere it was seen."""
    q = request.args.get("q", "").strip()
    context = dict(q=q, bookings=None, kind=None, error=None, now=utcnow(), is_imported=is_imported)
    if q:
        try:
            context["kind"], context["bookings"] = trace(q)
        except TraceQueryError as exc:
            context["error"] = str(exc)
    if htmx:
        return render_template("support/_trace_results.html", **context)
    return render_template("support/trace.html", **context)


@bp.route("/enrolments/<int:enrolment_id>")
@support_required
def enrolment(enrolment_id):
    """One workflow enrolment a booking caused, read-only: its steps, outcomes and errors (issue 14)."""
    e = Enrolment.get_or_none(Enrolment.id == enrolment_id)
    if e is None:
        abort(404)
    runs = enrolments.step_runs(e)
    for r in runs:
        r.error = redact(r.error) if r.error else r.error
    return render_template("support/enrolment.html", e=e, w=e.workflow, runs=runs,
                           error=redact(e.error) if e.error else None)


@bp.route("/audit")
@support_required
def audit():
    """The audit log: who did what, when, to how many (D5, S2)."""
    action = request.args.get("action", "").strip()
    page = _page_number()
    query = AuditEntry.select(AuditEntry, User, Subaccount).join(
        User, JOIN.LEFT_OUTER, on=(AuditEntry.actor == User.id)
    ).switch(AuditEntry).join(Subaccount, JOIN.LEFT_OUTER, on=(AuditEntry.subaccount == Subaccount.id))
    if action:
        query = query.where(AuditEntry.action == action)
    total = query.count()
    entries = list(query.order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).paginate(page, AUDIT_PER_PAGE))
    for e in entries:
        e.detail = redact(e.detail)
    actions = [a for (a,) in AuditEntry.select(AuditEntry.action).group_by(AuditEntry.action)
               .order_by(AuditEntry.action).tuples()]
    return render_template(
        "support/audit.html", entries=entries, actions=actions, action=action, page=page, total=total,
        pages=max((total + AUDIT_PER_PAGE - 1) // AUDIT_PER_PAGE, 1), now=utcnow(),
    )


@bp.route("/api/connections")
@support_required
def api_connections():
    """The console's figures as JSON, for monitoring tools (same filters as the list)."""
    now = utcnow()
    flt = _filter_from_request()
    healths = overview.list_health(flt, per_page=0, now=now)
    return jsonify(
        generated_at=to_iso(now),
        filter={"status": flt.status or None, "q": flt.q or None},
        queues=recovery.queue_stats(),
        inbox=overview.inbox_totals(),
        processes=restarts.read(current_app.instance_path),
        status_counts=overview.status_counts(),
        connections=[h.as_dict(now) for h in healths],
    )
