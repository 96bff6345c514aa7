"""Calendars > Calendar Settings: Connections and Preferences (SPEC C1-C7, S1, E4).

Views parse, call ``portal.connections.service`` and render. Each modal is
one partial: an HTMX request gets the partial alone, a full page load gets
the Connections page with that modal already open.
"""
import logging
from collections import namedtuple

from flask import abort, flash, redirect, render_template, request, session, url_for
from flask_htmx.responses import HTMXResponseClientRedirect, HTMXResponseStopPolling
from flask_login import current_user, login_required

from portal import localtime, params
from portal.calendly.errors import CalendlyError, ReconnectNeeded, user_message
from portal.calendly.oauth import (CALLBACK_PATH, CodeExchangeFailed, calendly_oauth, exchange_code, forget_state,
                                   keep_newest_states, redirect_uri)
from portal.calendly.plans import plan_label
from portal.connections import bp
from portal.connections import removal, service
from portal.pipeline import disconnect
from portal.extensions import htmx
from portal.models import CalendlyConnection, Status, User
from portal.models.audit import record
from portal.sync import deletion
from portal.tenancy import current_role, current_subaccount, get_scoped_or_404, subaccount_required, switch_to

log = logging.getLogger(__name__)

CONNECT_SUBACCOUNT = "calendly_connect_subaccount"
DENIED_MESSAGE = "Calendly access was not granted."
STATE_MESSAGE = ("We could not verify this Calendly sign-in: it did not come from a connection started here, "
                 "or it was already used. Please try connecting again.")
CODE_MESSAGE = ("Calendly did not accept the sign-in: the authorization code has expired or was already used. "
                "Please try connecting again.")
# Our own words for each OAuth error code (RFC 6749 4.1.2.1, 5.2). The provider's error_description is never
# shown: anyone can put text in a callback link, and the banner would lend it our voice.
OAUTH_ERROR_MESSAGES = {
    "access_denied": DENIED_MESSAGE,
    "invalid_grant": CODE_MESSAGE,
    "temporarily_unavailable": "Calendly is temporarily unavailable. Please try connecting again in a few minutes.",
    "server_error": "Calendly had a problem finishing the sign-in. Please try connecting again.",
    "invalid_scope": "Calendly did not grant the access Calbridge needs. Please try connecting again.",
    "invalid_client": "Calendly did not recognise Calbridge's app. Please contact support.",
    "unauthorized_client": "Calendly did not allow Calbridge's app to connect. Please contact support.",
}
OAUTH_ERROR_DEFAULT = "Calendly did not connect your account. Please try connecting again."


@bp.context_processor
def _helpers():
    return {"plan_label": plan_label}


# ------------------------------------------------------------------ pages
@bp.route("/")
@subaccount_required
def settings():
    return redirect(url_for("connections.index"))


@bp.route("/connections")
@subaccount_required
def index():
    modal = None
    select_id = request.args.get("select", type=params.db_id)
    if select_id:
        connection = _own_connection_or_404(select_id)
        if connection.is_live:
            modal = _selection_modal(connection)
    return _page(modal)


@bp.route("/connections/new")
@subaccount_required
def add():
    """The provider chooser ("Add a calendar connection")."""
    return show(Modal("connections/_providers_modal.html", {"mine": _mine()}))


@bp.route("/preferences", methods=["GET", "POST"])
@subaccount_required
def preferences():
    """SPEC E4's "Reflect cancellations and reschedules" and the subaccount's time zone; admins change them."""
    sub = current_subaccount()
    is_admin = current_role() == "admin"
    code = 200
    if request.method == "POST":
        if not is_admin:
            flash("Only an admin of this subaccount can change its preferences.", "error")
            code = 403
        else:
            chosen = request.form.get("time_zone", sub.time_zone)
            if not localtime.is_zone(chosen):
                flash("Choose a time zone from the list, like America/Chicago.", "error")
                code = 422
            else:
                sub.reflect_cancellations = request.form.get("reflect_cancellations") == "on"
                sub.time_zone = chosen
                sub.save(only=[type(sub).reflect_cancellations, type(sub).time_zone])
                flash("Preferences saved.", "success")
                return redirect(url_for("connections.preferences"))
    return render_template("connections/preferences.html", is_admin=is_admin, subaccount=sub,
                           zones=localtime.zone_names()), code


# A modal is a partial and what it shows: an HTMX request gets the partial alone, a
# browser the Connections page, which includes the same partial.
Modal = namedtuple("Modal", "template context")


def show(modal, status=200):
    if htmx:
        return render_template(modal.template, **modal.context), status
    return _page(modal, status)


def _page(modal=None, status=200):
    sub = current_subaccount()
    mine = _mine()
    is_admin = current_role() == "admin"
    others, former = [], []
    if is_admin:
        former = disconnect.former_members_connections(sub.id)
        others = list(
            service.live_connections()
            .join(User)
            .where((CalendlyConnection.subaccount == sub) & (CalendlyConnection.user != current_user.id))
            .order_by(User.email)
        )
    page = dict(
        mine=mine, others=others, tasks=removal.visible_tasks(sub.id, current_user.id, is_admin),
        waiting=[removal.waiting_message(*w) for w in deletion.waiting_deletions(sub.id, current_user.id)],
        past=disconnect.past_connections(sub.id, current_user.id), former=former,
        modal_template=modal.template if modal else None,
    )
    return render_template("connections/index.html", **{**page, **(modal.context if modal else {})}), status


def _mine():
    return service.live_connection_of(current_user.id, current_subaccount())


def _own_connection_or_404(connection_id):
    """The signed-in user's own connection in this subaccount; anything else is a 404 (T2)."""
    return get_scoped_or_404(CalendlyConnection, connection_id, CalendlyConnection.user == current_user.id)


# ------------------------------------------------------------------ OAuth (C1)
@bp.route("/connections/calendly/connect", methods=["GET", "POST"])
@subaccount_required
def connect_calendly():
    """Send the browser to Calendly's consent page (authorization code + PKCE + state)."""
    session[CONNECT_SUBACCOUNT] = current_subaccount().id
    keep_newest_states()
    return calendly_oauth().authorize_redirect(redirect_uri())


@login_required
def calendly_callback():
    """Calendly sends the browser back here; nothing is kept unless every check passes."""
    subaccount_id = session.pop(CONNECT_SUBACCOUNT, None)
    if subaccount_id is not None:
        switch_to(subaccount_id)  # the subaccount the flow started in (404 if no longer a member)
    sub = current_subaccount()
    if sub is None:
        abort(404)
    error = request.args.get("error")
    if error:
        forget_state(request.args.get("state"))
        flash(OAUTH_ERROR_MESSAGES.get(error, OAUTH_ERROR_DEFAULT), "warning" if error == "access_denied" else "error")
        return redirect(url_for("connections.index"))
    try:
        token = exchange_code()
    except CodeExchangeFailed as exc:
        flash(_exchange_message(exc), "error")
        return redirect(url_for("connections.index"))

    try:
        connection, _ = service.connect_from_oauth(current_user._get_current_object(), sub, token)
    except service.Refused as exc:
        flash(exc.message, "error")
        return redirect(url_for("connections.index"))
    if connection.status == Status.PENDING:
        return redirect(url_for("connections.index", select=connection.id))
    flash(f"Calendly reconnected ({connection.calendly_email}).", "success")
    return redirect(url_for("connections.index"))


def _exchange_message(exc):
    if exc.reason == "state":
        return STATE_MESSAGE
    if exc.reason == "refused":
        log.info("Calendly token exchange refused: %.64r", exc.error)
        return OAUTH_ERROR_MESSAGES.get(exc.error, OAUTH_ERROR_DEFAULT)
    log.warning("Calendly token exchange failed: %s", exc.error)
    return "Calendly could not be reached to finish the sign-in. Please try connecting again."


@bp.record_once
def _register_callback(state):
    # The redirect URI registered with Calendly lies outside this blueprint's prefix.
    state.app.add_url_rule(CALLBACK_PATH, endpoint="connections.calendly_callback", view_func=calendly_callback)


# ------------------------------------------------------------------ calendar selection (C1, C2)
@bp.route("/connections/<int:connection_id>/calendars", methods=["GET", "POST"])
@subaccount_required
def select(connection_id):
    connection = _own_connection_or_404(connection_id)
    if request.method == "GET":
        return show(_selection_modal(connection))
    return _save_first_selection(connection)


def _save_first_selection(connection):
    chosen_uris = request.form.getlist("event_type")
    consent = request.form.get("consent") == "yes"
    switch = backfill_switch_from_form()
    try:
        offered = service.offered_calendars(connection)
        chosen = service.save_selection(connection, offered, chosen_uris, consent, current_user.id,
                                        backfill_starts_workflows=bool(switch))
    except ReconnectNeeded as exc:
        # The connection now says Reconnect needed (e.g. a permission Calendly did not grant): its row explains.
        flash(user_message(exc), "error")
        return _to_index()
    except CalendlyError as exc:
        return _selection_error(connection, user_message(exc), [], chosen_uris, consent, 502)
    except service.SelectionProblem as exc:
        return _selection_error(connection, exc.message, offered, chosen_uris, consent, exc.status_code)
    except service.Refused as exc:
        flash(exc.message, "error")
        return _to_index()
    names = ", ".join(o.name for o in chosen)
    flash(f"Calendly connected. Importing your events… ({names})", "success")
    return _to_index()


def _selection_error(connection, message, offered, chosen_uris, consent, status):
    return show(_selection_modal(connection, offered=offered, chosen=chosen_uris, consent=consent, error=message,
                                 backfill_on=backfill_switch_from_form()), status)


def _selection_modal(connection, *, offered=None, chosen=None, consent=None, error=None, notice=None,
                     backfill_on=None):
    """The selection modal: the first Save (setup) or, once connected, Edit (D1) with the current choice."""
    setup = connection.connected_at is None
    if offered is None:
        if setup:
            try:
                offered = service.offered_calendars(connection)
            except CalendlyError as exc:
                offered, error = [], user_message(exc)
        else:
            offered, notice = removal.edit_options(connection)
    if chosen is None:
        chosen = [s.event_type_uri for s in connection.current_selections()]
    if consent is None:
        consent = not setup
    endpoint = "connections.select" if setup else "connections.edit"
    return Modal("connections/_selection_modal.html", dict(
        connection=connection,
        offered=offered,
        chosen=set(chosen),
        consent=consent,
        error=error,
        notice=notice,
        action=url_for(endpoint, connection_id=connection.id),
        setup=setup,
        backfill_on=bool(connection.backfill_starts_workflows) if backfill_on is None else backfill_on,
    ))


def _to_index():
    target = url_for("connections.index")
    return HTMXResponseClientRedirect(target) if htmx else redirect(target, code=303)


# ------------------------------------------------------------------ import progress (S1)
@bp.route("/connections/<int:connection_id>/status")
@subaccount_required
def status(connection_id):
    """The status cell; polled every 2 s while Importing, then 286 stops the polling."""
    if current_role() == "admin":
        connection = get_scoped_or_404(CalendlyConnection, connection_id)
    else:
        connection = _own_connection_or_404(connection_id)
    html = render_template("connections/_status.html", c=connection)
    if connection.status == Status.IMPORTING:
        return html
    return HTMXResponseStopPolling(html)


# ------------------------------------------------------------------ workflows (issue 14)
@bp.route("/connections/<int:connection_id>/backfill-workflows", methods=["POST"])
@subaccount_required
def backfill_workflows(connection_id):
    """"Historical appointments from the backfill start workflows": off by default; audited."""
    connection = _own_connection_or_404(connection_id)
    save_backfill_switch(connection, request.form.get("backfill_starts_workflows") == "on")
    return redirect(url_for("connections.index"), 303)


def backfill_switch_from_form():
    """The selection modal's switch as posted: True/False, or None when the form did not show it."""
    if request.form.get("backfill_switch_shown") != "1":
        return None
    return request.form.get("backfill_starts_workflows") == "on"


def save_backfill_switch(connection, on):
    """Store the switch (audited, with a flash) when it changes; True when it did."""
    changed = CalendlyConnection.update(backfill_starts_workflows=on).where(
        (CalendlyConnection.id == connection.id)
        & (CalendlyConnection.backfill_starts_workflows.is_null() | (CalendlyConnection.backfill_starts_workflows != on))
    ).execute()
    if not changed:
        return False  # nothing to say: a flash per unchanged Save would pile up in the session cookie
    record("connection.backfill_workflows", actor=current_user.id, subaccount=connection.subaccount_id,
           target=connection.calendly_email or "", detail="on" if on else "off")
    flash("Historical appointments from the backfill now start workflows." if on
          else "Historical appointments from the backfill no longer start workflows.", "success")
    return True
