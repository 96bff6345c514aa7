"""The sandbox's own data: Peewee models in its own SQLite database (WAL mode).

Rows carry bare uuids; resource URIs are built from ``SANDBOX_BASE_URL`` when
serialized, so changing the public address never rewrites data.
"""
import hashlib
import json
import os
import uuid as uuidlib
from datetime import UTC, datetime

import peewee as pw
from playhouse.pool import PooledSqliteDatabase

db = pw.DatabaseProxy()

PLANS = ("basic", "essentials", "professional", "teams", "enterprise")
STAGES = ("trial", "free", "paid")
ROLES = ("user", "admin", "owner")
WEBHOOK_EVENTS = ("invitee.created", "invitee.canceled", "invitee_no_show.created", "invitee_no_show.deleted",
                  "event_type.created", "event_type.updated", "event_type.deleted")  # API-FACTS §7


# ------------------------------------------------------------------ helpers
def utcnow():
    """Naive UTC now; every datetime in the store is naive UTC."""
    return datetime.now(UTC).replace(tzinfo=None)


def isoformat(dt):
    """Calendly's timestamp format: ``2020-01-02T03:04:05.678123Z``."""
    return dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ") if dt else None


def parse_time(value):
    """Parse an ISO-8601 string into naive UTC; raises ValueError."""
    if not isinstance(value, str) or not value:
        raise ValueError("not a timestamp")
    dt = datetime.fromisoformat(value.strip().replace("z", "Z").replace("Z", "+00:00"))
    if dt.tzinfo is not None:
        dt = dt.astimezone(UTC).replace(tzinfo=None)
    return dt


def new_uuid():
    return str(uuidlib.uuid4())


def token_hash(token):
    return hashlib.sha256(token.encode()).hexdigest()


class JSONField(pw.TextField):
    """JSON stored as text (no json1 queries needed)."""

    def db_value(self, value):
        return None if value is None else json.dumps(value)

    def python_value(self, value):
        return None if value is None else json.loads(value)


class BaseModel(pw.Model):
    class Meta:
        database = db


# ------------------------------------------------------------------ accounts
class Organization(BaseModel):
    uuid = pw.CharField(unique=True, default=new_uuid)
    name = pw.CharField()
    plan = pw.CharField(default="professional")
    stage = pw.CharField(default="paid")
    kind = pw.CharField(default="multiple")
    created_at = pw.DateTimeField(default=utcnow)
    updated_at = pw.DateTimeField(default=utcnow)

    @property
    def webhooks_allowed(self):
        """Webhooks need a paid tier (Standard/Professional and up) that has not lapsed to free."""
        return self.plan not in ("basic", "essentials") and self.stage != "free"

    @property
    def is_free(self):
        return self.plan == "basic" or self.stage == "free"


class User(BaseModel):
    uuid = pw.CharField(unique=True, default=new_uuid)
    name = pw.CharField()
    slug = pw.CharField(unique=True)
    email = pw.CharField(unique=True)
    password_hash = pw.CharField()
    timezone = pw.CharField(default="UTC")
    locale = pw.CharField(default="en")
    organization = pw.ForeignKeyField(Organization, backref="current_users")
    created_at = pw.DateTimeField(default=utcnow)
    updated_at = pw.DateTimeField(default=utcnow)


class Membership(BaseModel):
    uuid = pw.CharField(unique=True, default=new_uuid)
    user = pw.ForeignKeyField(User, backref="memberships", on_delete="CASCADE")
    organization = pw.ForeignKeyField(Organization, backref="memberships", on_delete="CASCADE")
    role = pw.CharField(default="user")
    created_at = pw.DateTimeField(default=utcnow)
    updated_at = pw.DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("user", "organization"), True),)


# ------------------------------------------------------------------ OAuth
class OAuthClient(BaseModel):
    name = pw.CharField()
    client_id = pw.CharField(unique=True)
    client_secret = pw.CharField()
    redirect_uris = JSONField(default=list)
    webhook_signing_key = pw.CharField()
    scopes = JSONField(null=True)  # None = legacy app ("default", full access); else the registered scopes
    from_config = pw.BooleanField(default=False)
    created_at = pw.DateTimeField(default=utcnow)


class AuthorizationCode(BaseModel):
    code_hash = pw.CharField(unique=True)
    client = pw.ForeignKeyField(OAuthClient, on_delete="CASCADE")
    user = pw.ForeignKeyField(User, on_delete="CASCADE")
    redirect_uri = pw.TextField()
    scope = pw.CharField(default="default")
    code_challenge = pw.CharField(null=True)
    code_challenge_method = pw.CharField(null=True)
    expires_at = pw.DateTimeField()
    used_at = pw.DateTimeField(null=True)
    created_at = pw.DateTimeField(default=utcnow)


class Token(BaseModel):
    """One issuance: an access token and the refresh token paired with it."""

    access_hash = pw.CharField(unique=True)
    refresh_hash = pw.CharField(unique=True)
    client = pw.ForeignKeyField(OAuthClient, on_delete="CASCADE")
    user = pw.ForeignKeyField(User, on_delete="CASCADE")
    scope = pw.CharField(default="default")
    created_at = pw.DateTimeField(default=utcnow)
    expires_at = pw.DateTimeField()
    revoked_at = pw.DateTimeField(null=True)  # both tokens dead
    refresh_used_at = pw.DateTimeField(null=True)  # refresh token rotated away

    @property
    def access_revoked(self):
        return self.revoked_at is not None

    @property
    def refresh_revoked(self):
        return self.revoked_at is not None or self.refresh_used_at is not None


# ------------------------------------------------------------------ scheduling
class EventType(BaseModel):
    uuid = pw.CharField(unique=True, default=new_uuid)
    name = pw.CharField()
    slug = pw.CharField(unique=True)
    organization = pw.ForeignKeyField(Organization, backref="event_types", on_delete="CASCADE")
    owner = pw.ForeignKeyField(User, on_delete="CASCADE")
    duration = pw.IntegerField(default=30)
    kind = pw.CharField(default="solo")  # solo | group
    invitees_limit = pw.IntegerField(default=1)
    pooling_type = pw.CharField(null=True)  # round_robin | collective | None
    active = pw.BooleanField(default=True)
    secret = pw.BooleanField(default=False)
    color = pw.CharField(default="#0069ff")
    description = pw.TextField(null=True)
    internal_note = pw.TextField(null=True)
    location = JSONField(default=lambda: {"kind": "google_conference"})
    custom_questions = JSONField(default=list)
    position = pw.IntegerField(default=0)
    created_at = pw.DateTimeField(default=utcnow)
    updated_at = pw.DateTimeField(default=utcnow)
    deleted_at = pw.DateTimeField(null=True)


class EventTypeHost(BaseModel):
    uuid = pw.CharField(unique=True, default=new_uuid)
    event_type = pw.ForeignKeyField(EventType, backref="hosts", on_delete="CASCADE")
    user = pw.ForeignKeyField(User, backref="hosted_event_types", on_delete="CASCADE")
    last_assigned_at = pw.DateTimeField(null=True)  # round robin rotation
    created_at = pw.DateTimeField(default=utcnow)
    updated_at = pw.DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("event_type", "user"), True),)


class ScheduledEvent(BaseModel):
    uuid = pw.CharField(unique=True, default=new_uuid)
    event_type = pw.ForeignKeyField(EventType, backref="events", on_delete="CASCADE")
    organization = pw.ForeignKeyField(Organization, backref="events", on_delete="CASCADE")
    name = pw.CharField()
    status = pw.CharField(default="active")
    start_time = pw.DateTimeField(index=True)
    end_time = pw.DateTimeField()
    location = JSONField(null=True)
    invitees_limit = pw.IntegerField(default=1)
    canceled_by = pw.CharField(null=True)
    cancel_reason = pw.TextField(null=True)
    canceler_type = pw.CharField(null=True)
    canceled_at = pw.DateTimeField(null=True)
    created_at = pw.DateTimeField(default=utcnow)
    updated_at = pw.DateTimeField(default=utcnow)


class EventMembership(BaseModel):
    event = pw.ForeignKeyField(ScheduledEvent, backref="memberships", on_delete="CASCADE")
    user = pw.ForeignKeyField(User, backref="event_memberships", on_delete="CASCADE")

    class Meta:
        indexes = ((("event", "user"), True),)


class EventGuest(BaseModel):
    event = pw.ForeignKeyField(ScheduledEvent, backref="guests", on_delete="CASCADE")
    email = pw.CharField()
    created_at = pw.DateTimeField(default=utcnow)
    updated_at = pw.DateTimeField(default=utcnow)


class Invitee(BaseModel):
    uuid = pw.CharField(unique=True, default=new_uuid)
    event = pw.ForeignKeyField(ScheduledEvent, backref="invitees", on_delete="CASCADE")
    name = pw.CharField()
    email = pw.CharField(index=True)
    first_name = pw.CharField(null=True)
    last_name = pw.CharField(null=True)
    status = pw.CharField(default="active")
    timezone = pw.CharField(null=True)
    text_reminder_number = pw.CharField(null=True)
    questions_and_answers = JSONField(default=list)
    tracking = JSONField(default=dict)
    rescheduled = pw.BooleanField(default=False)
    old_invitee = pw.ForeignKeyField("self", null=True, backref="+", on_delete="SET NULL")
    new_invitee = pw.ForeignKeyField("self", null=True, backref="+", on_delete="SET NULL")
    canceled_by = pw.CharField(null=True)
    cancel_reason = pw.TextField(null=True)
    canceler_type = pw.CharField(null=True)
    canceled_at = pw.DateTimeField(null=True)
    created_at = pw.DateTimeField(default=utcnow)
    updated_at = pw.DateTimeField(default=utcnow)


class InviteeNoShow(BaseModel):
    """An invitee marked as a no-show (at most one per invitee; deleting it undoes the mark)."""

    uuid = pw.CharField(unique=True, default=new_uuid)
    invitee = pw.ForeignKeyField(Invitee, backref="no_shows", unique=True, on_delete="CASCADE")
    created_at = pw.DateTimeField(default=utcnow)


# ------------------------------------------------------------------ webhooks
class WebhookSubscription(BaseModel):
    uuid = pw.CharField(unique=True, default=new_uuid)
    callback_url = pw.TextField()
    events = JSONField()
    scope = pw.CharField()  # user | organization
    organization = pw.ForeignKeyField(Organization, on_delete="CASCADE")
    user = pw.ForeignKeyField(User, null=True, on_delete="CASCADE")
    creator = pw.ForeignKeyField(User, backref="+", on_delete="CASCADE")
    client = pw.ForeignKeyField(OAuthClient, null=True, on_delete="SET NULL")
    signing_key = pw.CharField(null=True)
    state = pw.CharField(default="active")
    retry_started_at = pw.DateTimeField(null=True)
    created_at = pw.DateTimeField(default=utcnow)
    updated_at = pw.DateTimeField(default=utcnow)
    deleted_at = pw.DateTimeField(null=True)


class WebhookJob(BaseModel):
    """One payload owed to one subscription (the persistent send queue)."""

    subscription = pw.ForeignKeyField(WebhookSubscription, backref="jobs", on_delete="CASCADE")
    event = pw.CharField()
    invitee_uri = pw.TextField()  # the URI the event is about (an invitee, or an event type for event_type.*)
    body = pw.TextField()  # the exact bytes sent, fixed when the booking happened
    status = pw.CharField(default="pending", index=True)  # pending|sending|delivered|failed|dropped|skipped
    attempts = pw.IntegerField(default=0)
    next_attempt_at = pw.DateTimeField(default=utcnow, index=True)
    first_attempt_at = pw.DateTimeField(null=True)
    created_at = pw.DateTimeField(default=utcnow)


class WebhookAttempt(BaseModel):
    """The delivery log: one row per attempt (or drop / skip)."""

    job = pw.ForeignKeyField(WebhookJob, backref="attempt_log", on_delete="CASCADE")
    subscription = pw.ForeignKeyField(WebhookSubscription, on_delete="CASCADE")
    url = pw.TextField()
    event = pw.CharField()
    invitee_uri = pw.TextField()
    attempt = pw.IntegerField()
    status_code = pw.IntegerField(null=True)
    error = pw.TextField(null=True)
    dropped = pw.BooleanField(default=False)
    skipped = pw.CharField(null=True)  # plan | disabled | deleted
    sent_at = pw.DateTimeField(default=utcnow)


ALL_MODELS = [
    Organization, User, Membership, OAuthClient, AuthorizationCode, Token, EventType, EventTypeHost,
    ScheduledEvent, EventMembership, EventGuest, Invitee, InviteeNoShow, WebhookSubscription, WebhookJob, WebhookAttempt,
]


def init_db(path, pooled=False):
    """Point the proxy at ``path`` (created if missing) and create the tables. The app's is ``pooled``: each
    request is a new thread, and opening a connection (its pragmas) cost more than the request's queries."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    database = (PooledSqliteDatabase if pooled else pw.SqliteDatabase)(
        path,
        pragmas={"journal_mode": "wal", "foreign_keys": 1, "busy_timeout": 10000, "synchronous": "off"},
        # synchronous=off: sandbox data survives restarts but not power loss; no fsync keeps requests fast.
        lock_type="IMMEDIATE",  # writers queue on busy_timeout instead of failing on upgrade
        check_same_thread=False,
        **({"max_connections": None} if pooled else {}),  # as many as there are concurrent requests, as before
    )
    db.initialize(database)
    with db.connection_context():
        db.create_tables(ALL_MODELS)
        _add_missing_columns(database)
    return database


def _add_missing_columns(database):
    """A sandbox.db from an older version lacks newer nullable columns: add them (data is kept)."""
    from playhouse.migrate import SqliteMigrator, migrate

    migrator = SqliteMigrator(database)
    for model in ALL_MODELS:
        table = model._meta.table_name
        present = {c.name for c in database.get_columns(table)}
        for field in model._meta.sorted_fields:
            if field.column_name not in present and field.null:
                migrate(migrator.add_column(table, field.column_name, field))


def empty_all(keep_clients=True):
    """Delete every row (used by ``/_sandbox/reset``)."""
    with db.atomic():
        for model in reversed(ALL_MODELS):
            if keep_clients and model is OAuthClient:
                continue
            model.delete().execute()
