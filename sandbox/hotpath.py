"""Hand-written SQL for the statements every booking and its delivery run: Peewee rebuilds SQL on each run.

Peewee builds a statement's SQL anew on every execution (0.1-0.4 ms each here,
several times SQLite's own work), and a booking with its webhook delivery runs
a dozen; these are written once. Rows come back as the models Peewee would make (each
field's ``python_value``); values go in through each field's ``db_value``, so
what is stored is byte for byte what ``Model.create`` / ``save`` would store.
"""
from .store import EventType, Organization, User, WebhookJob, WebhookSubscription, db

_INSERTS = {}  # (model, column names) -> INSERT statement


def _columns(model, alias):
    return ", ".join(f'{alias}."{f.column_name}"' for f in model._meta.sorted_fields)


def _row(model, values):
    """A model instance from its columns in ``sorted_fields`` order, as a Peewee query returns it."""
    fields = model._meta.sorted_fields
    inst = model(__no_default__=1, **{f.name: f.python_value(v) for f, v in zip(fields, values)})
    inst._dirty.clear()
    return inst


def _split(row, *models):
    """One row of ``SELECT <model 1 columns>, <model 2 columns>, ...`` as instances."""
    out, start = [], 0
    for model in models:
        end = start + len(model._meta.sorted_fields)
        out.append(_row(model, row[start:end]))
        start = end
    return out


# ------------------------------------------------------------------ writes
def create(model, **values):
    """``model.create(**values)``: the same row and instance, the INSERT built once per set of columns."""
    inst = model(**values)
    data = inst.__data__
    pk = model._meta.primary_key
    fields = [f for f in model._meta.sorted_fields if f.name in data and not (f is pk and data[f.name] is None)]
    key = (model, tuple(f.name for f in fields))
    sql = _INSERTS.get(key)
    if sql is None:
        names = ", ".join(f'"{f.column_name}"' for f in fields)
        sql = _INSERTS[key] = (f'INSERT INTO "{model._meta.table_name}" ({names}) '
                               f'VALUES ({", ".join("?" * len(fields))})')
    cursor = db.execute_sql(sql, [f.db_value(data[f.name]) for f in fields])
    if data.get(pk.name) is None:
        inst._pk = cursor.lastrowid
    inst._dirty.clear()
    return inst


_JOB_STATE = (WebhookJob.status, WebhookJob.attempts, WebhookJob.next_attempt_at, WebhookJob.first_attempt_at)
_SAVE_JOB_STATE = ('UPDATE "webhookjob" SET "status" = ?, "attempts" = ?, "next_attempt_at" = ?, '
                   '"first_attempt_at" = ? WHERE "id" = ?')


def save_job_state(job):
    """``job.save(only=[status, attempts, next_attempt_at, first_attempt_at])``."""
    db.execute_sql(_SAVE_JOB_STATE, [f.db_value(getattr(job, f.name)) for f in _JOB_STATE] + [job.id])
    job._dirty.clear()


_CLAIM = 'UPDATE "webhookjob" SET "status" = ? WHERE "id" IN ({})'


def claim(job_ids):
    """Mark due jobs ``sending`` (this sender has them)."""
    db.execute_sql(_CLAIM.format(", ".join("?" * len(job_ids))), ["sending", *job_ids])


_END_RETRY = ('UPDATE "webhooksubscription" SET "retry_started_at" = NULL, "updated_at" = ? '
              'WHERE "id" = ? AND "retry_started_at" IS NOT NULL')


def end_retry(sub_id, now):
    """A delivery got through: the subscription's retry period (if any) ends."""
    db.execute_sql(_END_RETRY, [WebhookSubscription.updated_at.db_value(now), sub_id])


# ------------------------------------------------------------------ reads
_EVENT_TYPE = f'SELECT {_columns(EventType, "t1")} FROM "eventtype" AS "t1" WHERE "t1"."uuid" = ? LIMIT 1'


def event_type(uuid):
    """The event type with this uuid, or None."""
    row = db.execute_sql(_EVENT_TYPE, [uuid]).fetchone()
    return _row(EventType, row) if row else None


_HOSTS = (f'SELECT {_columns(User, "t2")} FROM "eventtypehost" AS "t1" '
          f'INNER JOIN "user" AS "t2" ON ("t1"."user_id" = "t2"."id") '
          f'WHERE "t1"."event_type_id" = ? ORDER BY "t1"."id"')


def hosts(event_type_id):
    """The event type's hosts (users), in the order they were added."""
    return [_row(User, r) for r in db.execute_sql(_HOSTS, [event_type_id]).fetchall()]


_COVERING = (f'SELECT {_columns(WebhookSubscription, "t1")}, {_columns(User, "t2")} '
             f'FROM "webhooksubscription" AS "t1" INNER JOIN "user" AS "t2" ON ("t1"."creator_id" = "t2"."id") '
             f'WHERE "t1"."deleted_at" IS NULL AND "t1"."state" = ? AND '
             f'(("t1"."scope" = ? AND "t1"."organization_id" = ?) OR ("t1"."scope" = ? AND "t1"."user_id" IN ({{}}))) '
             f'ORDER BY "t1"."id"')


def active_covering(org_id, host_ids):
    """Active subscriptions of the organization or of one of ``host_ids``, each with its ``creator``, by id."""
    host_ids = list(host_ids) or [0]
    sql = _COVERING.format(", ".join("?" * len(host_ids)))
    subs = []
    for row in db.execute_sql(sql, ["active", "organization", org_id, "user", *host_ids]).fetchall():
        sub, creator = _split(row, WebhookSubscription, User)
        sub.creator = creator
        sub._dirty.clear()
        subs.append(sub)
    return subs


_DUE = ('SELECT "id", "subscription_id" FROM "webhookjob" WHERE "status" = ? AND "next_attempt_at" <= ? '
        'ORDER BY "next_attempt_at", "id" LIMIT ?')


def due_jobs(now, limit):
    """(id, subscription id) of the pending jobs due at ``now``, the longest due first."""
    return db.execute_sql(_DUE, ["pending", WebhookJob.next_attempt_at.db_value(now), limit]).fetchall()


_JOB = (f'SELECT {_columns(WebhookJob, "t1")}, {_columns(WebhookSubscription, "t2")}, {_columns(Organization, "t3")} '
        f'FROM "webhookjob" AS "t1" INNER JOIN "webhooksubscription" AS "t2" ON ("t1"."subscription_id" = "t2"."id") '
        f'INNER JOIN "organization" AS "t3" ON ("t2"."organization_id" = "t3"."id") WHERE "t1"."id" = ? LIMIT 1')


def job_to_send(job_id):
    """The job with its ``subscription`` and the subscription's ``organization``; DoesNotExist if gone."""
    row = db.execute_sql(_JOB, [job_id]).fetchone()
    if row is None:
        raise WebhookJob.DoesNotExist(f"webhook job {job_id}")
    job, sub, org = _split(row, WebhookJob, WebhookSubscription, Organization)
    sub.organization = org
    job.subscription = sub
    sub._dirty.clear()
    job._dirty.clear()
    return job
