"""Connecting a Calendly account: the rules of SPEC C, kept out of the views.

``connect_from_oauth`` runs after Calendly hands back a token: it reads the
account, applies C5 (plan), C3 (one account per user and subaccount) and C4
(one portal user per Calendly account) and leaves a ``pending`` connection.
``save_selection`` is the first Save (C1, C7, W2): webhook subscription,
selection periods, status Importing, backfill job.
"""
import logging
import secrets
from dataclasses import dataclass

from portal import connection_status
from portal.calendly import subscriptions
from portal.calendly.client import CalendlyClient
from portal.calendly.tokens import lock_key
from portal.calendly.errors import CalendlyError, PlanNotSupported, ReconnectNeeded, user_message
from portal.calendly.release import revoke_quietly
from portal.calendly.plans import REQUIREMENT, plan_allowed, plan_refusal_message
from portal.extensions import db
from portal.models import CalendarSelection, CalendlyConnection, Status
from portal.models.audit import record
from portal.pipeline.reconcile import enqueue_backfill
from portal.queues import get_redis
from portal.timeutil import utcnow

log = logging.getLogger(__name__)

C3_MESSAGE = "You already have a Calendly account connected in this subaccount ({email}). Disconnect it first."
C4_MESSAGE = "This Calendly account is already connected by another Calbridge user."
CONSENT_MISSING = "Tick the consent box to let Calbridge pull your events from Calendly."
NOTHING_CHOSEN = "Choose at least one calendar to import."


class Refused(Exception):
    """The connection is refused; ``message`` says why and what to do. Nothing was kept."""

    def __init__(self, message):
        super().__init__(message)
        self.message = message


class SelectionProblem(Exception):
    """The selection cannot be saved as submitted; the user can fix it and save again."""

    def __init__(self, message, status_code=422):
        super().__init__(message)
        self.message = message
        self.status_code = status_code


@dataclass(frozen=True)
class CalendarOption:
    """One Calendly event type the connecting user hosts (C2)."""

    uri: str
    name: str
    shared: bool = False
    pooling_type: str | None = None
    active: bool = True
    gone: bool = False  # selected, but deleted or inactive in Calendly: shown so Edit can still remove it
    scheduling_url: str = ""  # the event type's Calendly booking page

    @property
    def kind_label(self):
        """E.g. ``Shared · Round robin``; empty for a personal calendar."""
        if not self.shared:
            return ""
        kinds = {"round_robin": "Round robin", "collective": "Collective", "multi_pool": "Multi-pool"}
        kind = kinds.get(self.pooling_type or "")
        return f"Shared · {kind}" if kind else "Shared"


# ------------------------------------------------------------------ queries
def live_connections():
    return CalendlyConnection.select().where(CalendlyConnection.status != Status.DISCONNECTED)


def live_connection_of(user, subaccount):
    """The user's connection in this subaccount that is not disconnected (C3: at most one)."""
    return live_connections().where(
        (CalendlyConnection.user == user) & (CalendlyConnection.subaccount == subaccount)
    ).order_by(CalendlyConnection.id.desc()).first()


# ------------------------------------------------------------------ rules
def check_plan(plan, stage):
    """C5: refuse Free, Essentials, lapsed and unknown plans with a message naming the plan."""
    if not plan_allowed(plan, stage):
        raise Refused(plan_refusal_message(plan, stage))


def check_one_account_per_subaccount(user, subaccount, calendly_user_uri):
    """C3: return the user's live connection here for the same account, refuse a different one."""
    mine = live_connection_of(user, subaccount)
    if mine is not None and mine.calendly_user_uri != calendly_user_uri:
        raise Refused(C3_MESSAGE.format(email=mine.calendly_email or mine.calendly_name or "another account"))
    return mine


def check_account_not_taken(user, calendly_user_uri):
    """C4: a Calendly account belongs to one portal user, in every subaccount."""
    taken = live_connections().where(
        (CalendlyConnection.calendly_user_uri == calendly_user_uri) & (CalendlyConnection.user != user)
    ).exists()
    if taken:
        raise Refused(C4_MESSAGE)


# ------------------------------------------------------------------ connect
def connect_from_oauth(user, subaccount, token):
    """Turn a fresh OAuth token into a pending connection (C1, C3-C5).

    Returns ``(connection, reconnected)``: ``reconnected`` is True when the
    user connected the account they already had here (its tokens are renewed
    and a status that asked them to reconnect is cleared). On refusal the new
    token is revoked at Calendly and ``Refused`` is raised; nothing is kept.
    """
    client = CalendlyClient.for_token(token)
    try:
        try:
            me = client.me()
            org = client.get_organization(me.get("current_organization") or token.get("organization"))
        except CalendlyError as exc:
            raise Refused(user_message(exc)) from exc
        check_plan(org.get("plan"), org.get("stage"))
        mine = check_one_account_per_subaccount(user, subaccount, me["uri"])
        check_account_not_taken(user, me["uri"])
    except Refused:
        revoke_quietly(client)
        raise
    finally:
        client.close()

    account = {
        "calendly_user_uri": me["uri"],
        "calendly_email": me.get("email") or "",
        "calendly_name": me.get("name") or "",
        "organization_uri": org.get("uri") or me.get("current_organization") or "",
        "plan": org.get("plan") or "",
        "stage": org.get("stage") or "",
    }
    if mine is None:
        connection = CalendlyConnection.create(
            subaccount=subaccount, user=user, status=Status.PENDING,
            webhook_token=secrets.token_urlsafe(24),
            access_token=client.connection.access_token, refresh_token=client.connection.refresh_token,
            token_expires_at=client.connection.token_expires_at, **account,
        )
        record("calendly.authorize", actor=user, subaccount=subaccount, target=account["calendly_email"])
        return connection, False
    connection = _replace_tokens(mine, client.connection, account)
    record("calendly.reconnect", actor=user, subaccount=subaccount, target=account["calendly_email"])
    if connection.connected_at is not None:
        _ensure_webhook_quietly(connection)
    if connection.status == Status.IMPORTING:
        # The interrupted backfill (W2) starts again; its window stays anchored at connected_at.
        _enqueue_backfill(connection)
    return connection, True


def _replace_tokens(connection, fresh, account):
    """Store a new token pair on an existing connection, revoke the old pair, return the row.

    Taken under the refresh lock so a worker renewing the old pair at the
    same moment cannot write it back over the new one.
    """
    lock = get_redis().lock(lock_key(connection.id), timeout=60, blocking_timeout=20)
    with lock:
        current = CalendlyConnection.get_by_id(connection.id)
        old = CalendlyConnection(access_token=current.access_token, refresh_token=current.refresh_token)
        status = current.status
        if status in (Status.RECONNECT_NEEDED, Status.PLAN_NOT_SUPPORTED, Status.ERROR):
            status = _resumed_status(current)
        CalendlyConnection.update(
            access_token=fresh.access_token, refresh_token=fresh.refresh_token,
            token_expires_at=fresh.token_expires_at, status=status,
            last_error=None if status != current.status else current.last_error, failure_count=0, **account,
        ).where(CalendlyConnection.id == connection.id).execute()
    connection_status.changed(connection.id)
    if old.access_token or old.refresh_token:
        revoke_quietly(CalendlyClient(old))
    return CalendlyConnection.get_by_id(connection.id)


def _resumed_status(connection):
    """Where a connection stands once its owner has reconnected it."""
    if connection.connected_at is None:
        return Status.PENDING
    return Status.CONNECTED if connection.backfilled_at else Status.IMPORTING


# ------------------------------------------------------------------ calendars (C2)
def offered_calendars(connection, client=None):
    """The event types the connection's Calendly user hosts, personal and shared (C2).

    Inactive event types are left out unless they are selected now, so an
    Edit can still show (and remove) them.
    """
    client = client or CalendlyClient(connection)
    user_uri = connection.calendly_user_uri
    selected = {s.event_type_uri for s in connection.current_selections()} if connection.id else set()
    options = []
    for et in client.list_event_types(user_uri):
        if et.get("deleted_at"):
            continue
        active = et.get("active", True)
        if not active and et["uri"] not in selected:
            continue
        pooling = et.get("pooling_type")
        owner = (et.get("profile") or {}).get("owner")
        shared = False
        if pooling or owner != user_uri:
            hosts = {(m.get("member") or {}).get("uri") for m in client.list_event_type_hosts(et["uri"])}
            if user_uri not in hosts:
                continue
            shared = bool(pooling) or len(hosts) > 1
        options.append(CalendarOption(uri=et["uri"], name=et.get("name") or "Untitled", shared=shared,
                                      pooling_type=pooling, active=active, gone=not active,
                                      scheduling_url=et.get("scheduling_url") or ""))
    return sorted(options, key=lambda o: (o.shared, o.name.lower()))


def validate_selection(offered, chosen_uris, consent):
    """C1: consent and at least one calendar, among those offered. Returns the chosen options."""
    by_uri = {o.uri: o for o in offered}
    chosen = [by_uri[u] for u in dict.fromkeys(chosen_uris) if u in by_uri]
    problems = []
    if not chosen:
        problems.append(NOTHING_CHOSEN)
    if not consent:
        problems.append(CONSENT_MISSING)
    if problems:
        raise SelectionProblem(" ".join(problems))
    return chosen


# ------------------------------------------------------------------ first Save
def save_selection(connection, offered, chosen_uris, consent, actor, backfill_starts_workflows=False):
    """The first Save (C1, C7, W2): subscribe the webhook, record the periods, start the backfill.

    ``backfill_starts_workflows`` (the modal's switch, off by default) is stored before the backfill starts.

    Raises ``SelectionProblem`` for input the user can fix or a Calendly
    error worth retrying, and ``Refused`` (connection removed, token
    revoked) when Calendly's plan gate refuses webhooks.
    """
    chosen = validate_selection(offered, chosen_uris, consent)
    if connection.connected_at is not None or connection.status != Status.PENDING:
        raise SelectionProblem("This connection is already set up.", status_code=409)

    # The key is stored before Calendly knows the URL, so a delivery that
    # races the rest of this function can already be verified.
    signing_key = subscriptions.new_signing_key()
    connection.signing_key = signing_key
    connection.save(only=[CalendlyConnection.signing_key])
    client = CalendlyClient(connection)
    try:
        subscription = subscriptions.subscribe(client, connection, signing_key)
    except PlanNotSupported as exc:
        revoke_quietly(client)
        subaccount, email = connection.subaccount, connection.calendly_email
        connection.delete_instance()
        record("calendly.refused", actor=actor, subaccount=subaccount, target=email, detail="C5 webhook plan gate")
        raise Refused(
            f"Calendly refused to send this account's bookings to Calbridge ({exc.message}). "
            f"{REQUIREMENT}: upgrade in Calendly, then connect again."
        ) from exc
    except ReconnectNeeded:
        raise  # the connection is marked Reconnect needed; the caller says why
    except CalendlyError as exc:
        raise SelectionProblem(user_message(exc), status_code=502) from exc

    now = utcnow()
    try:
        with db.atomic():
            connection.webhook_subscription_uri = subscription["uri"]
            connection.webhook_state = subscription.get("state") or "active"
            connection.connected_at = now
            connection.status = Status.IMPORTING
            connection.last_error = None
            connection.backfill_total = connection.backfill_done = 0
            connection.backfill_starts_workflows = bool(backfill_starts_workflows)
            connection.save(only=[
                CalendlyConnection.webhook_subscription_uri, CalendlyConnection.webhook_state,
                CalendlyConnection.connected_at, CalendlyConnection.status, CalendlyConnection.last_error,
                CalendlyConnection.backfill_total, CalendlyConnection.backfill_done,
                CalendlyConnection.backfill_starts_workflows,
            ])
            for option in chosen:
                CalendarSelection.create(
                    connection=connection, event_type_uri=option.uri, name=option.name, shared=option.shared,
                    pooling_type=option.pooling_type, selected_from=now, includes_backfill=True,
                    scheduling_url=option.scheduling_url,
                )
            record("calendly.connect", actor=actor, subaccount=connection.subaccount_id,
                   target=connection.calendly_email, count=len(chosen),
                   detail=", ".join(o.name for o in chosen))
    except Exception:
        subscriptions.delete_quietly(client, subscription["uri"])
        raise
    _enqueue_backfill(connection)
    return chosen


def _enqueue_backfill(connection):
    """W2: ``jobs.sync.backfill_connection`` on "bulk" as ``backfill-<id>``, with the sync's timeout and retries."""
    enqueue_backfill(connection.id)


def _ensure_webhook_quietly(connection):
    try:
        subscriptions.ensure_webhook(connection)
    except CalendlyError as exc:
        log.warning("webhook check of connection %s failed: %s", connection.id, exc)
