"""``portal.statement_cache``: Peewee queries built once, run with new values; and the pooled database URL."""
from datetime import datetime, timedelta

import pytest
from playhouse.db_url import connect
from playhouse.pool import PooledDatabase, PooledPostgresqlDatabase, PooledSqliteDatabase

from portal.statement_cache import CachedStatement
from portal.database import pooled_url
from portal.extensions import db
from portal.models import CalendlyConnection, Contact, Subaccount
from portal.pipeline import intake
from sync.helpers import make_connection

AT = datetime(2026, 3, 4, 5, 6, 7, 891011)  # microseconds, so a lost fraction shows

# Built once per database class, like the intake's statements: later tests reuse what the first compiled.
CONTACTS_OF = CachedStatement(lambda subaccount: (
    Contact.select(Contact.id, Contact.email, Contact.assigned_user, Contact.created_at)
    .where(Contact.subaccount == subaccount).order_by(Contact.id)), ints=("subaccount",))
CONTACT_BY_EMAIL = CachedStatement(lambda subaccount, email: (
    Contact.select(Contact.id, Contact.name)
    .where((Contact.subaccount == subaccount) & (Contact.email_normalized == email)).limit(1)),
    ints=("subaccount",))
ADD_CONTACT = CachedStatement(lambda subaccount, email, normalized, created_at: (  # name, assigned_user: defaults
    Contact.insert(subaccount=subaccount, email=email, email_normalized=normalized, created_at=created_at)),
    ints=("subaccount",))
NAME_UNNAMED = CachedStatement(lambda name, subaccount: (
    Contact.update(name=name).where((Contact.subaccount == subaccount) & (Contact.name == ""))),
    ints=("subaccount",))


def contact(subaccount, email, name="", created_at=AT, assigned_user=None):
    return Contact.create(subaccount=subaccount, email=email, email_normalized=email.lower(), name=name,
                          created_at=created_at, assigned_user=assigned_user)


def plain_contacts_of(subaccount):
    """What ``CONTACTS_OF`` compiles, run by Peewee itself."""
    return list(Contact.select(Contact.id, Contact.email, Contact.assigned_user, Contact.created_at)
                .where(Contact.subaccount == subaccount).order_by(Contact.id).tuples())


# ---------------------------------------------------------------- select
def test_select_returns_the_rows_peewee_returns_converted_the_same_way(app_ctx, people):
    ada = people.user("ada@acme.test")
    acme, other = people.subaccount(), people.subaccount("Other Clinic")
    contact(acme, "bea@example.test", created_at=AT, assigned_user=ada)
    contact(acme, "Cy@Example.test", name="Cy", created_at=AT + timedelta(days=1, microseconds=5))
    contact(other, "dee@example.test")

    rows = CONTACTS_OF.rows(subaccount=acme.id)

    assert rows == plain_contacts_of(acme.id)
    assert [(email, user) for _, email, user, _ in rows] == [("bea@example.test", ada.id), ("Cy@Example.test", None)]
    # The fields' python_value ran: datetimes, not the text SQLite stores.
    assert [r[3] for r in rows] == [AT, AT + timedelta(days=1, microseconds=5)]
    assert all(type(r[3]) is datetime for r in rows)


def test_each_call_binds_its_own_values(app_ctx, people):
    acme, other = people.subaccount(), people.subaccount("Other Clinic")
    bea = contact(acme, "bea@example.test", name="Bea")
    cy = contact(acme, "cy@example.test", name="Cy")
    dee = contact(other, "bea@example.test", name="Bea at Other")

    assert [r[0] for r in CONTACTS_OF.rows(subaccount=acme.id)] == [bea.id, cy.id]
    assert [r[0] for r in CONTACTS_OF.rows(subaccount=other.id)] == [dee.id]
    assert CONTACTS_OF.rows(subaccount=other.id + acme.id + 1000) == []

    assert CONTACT_BY_EMAIL.first(subaccount=acme.id, email="bea@example.test") == (bea.id, "Bea")
    assert CONTACT_BY_EMAIL.first(subaccount=acme.id, email="cy@example.test") == (cy.id, "Cy")
    assert CONTACT_BY_EMAIL.first(subaccount=other.id, email="bea@example.test") == (dee.id, "Bea at Other")
    assert CONTACT_BY_EMAIL.first(subaccount=other.id, email="cy@example.test") is None


def test_the_intake_lookup_reads_the_connection_as_peewee_does(app_ctx, people):
    """The signing key comes back decrypted and the last webhook time as a datetime."""
    ada = people.user("ada@acme.test")
    conn = make_connection(ada, Subaccount.get(name="Acme Dental"), signing_key="per-connection-key",
                           last_webhook_at=AT)
    make_connection(people.user("bob@acme.test"), Subaccount.get(name="Acme Dental"), signing_key="bobs-key")

    found = intake._CONNECTION_BY_TOKEN.first(token=conn.webhook_token)

    assert found == (conn.id, conn.status, "per-connection-key", AT)
    assert found == (
        CalendlyConnection.select(CalendlyConnection.id, CalendlyConnection.status, CalendlyConnection.signing_key,
                                  CalendlyConnection.last_webhook_at)
        .where(CalendlyConnection.webhook_token == conn.webhook_token).tuples().get())
    assert intake._CONNECTION_BY_TOKEN.first(token="no-such-token") is None


# ---------------------------------------------------------------- insert, update
def test_insert_stores_the_row_peewee_reads_back_and_returns_its_id(app_ctx, people):
    acme = people.subaccount()

    first = ADD_CONTACT.insert(subaccount=acme.id, email="Bea@Example.test", normalized="bea@example.test",
                               created_at=AT)
    second = ADD_CONTACT.insert(subaccount=acme.id, email="cy@example.test", normalized="cy@example.test",
                                created_at=AT + timedelta(hours=2))

    assert first != second and Contact.select().count() == 2
    bea, cy = Contact.get_by_id(first), Contact.get_by_id(second)
    assert (bea.subaccount_id, bea.email, bea.email_normalized, bea.name, bea.assigned_user_id, bea.created_at) == (
        acme.id, "Bea@Example.test", "bea@example.test", "", None, AT)
    assert (cy.email, cy.created_at) == ("cy@example.test", AT + timedelta(hours=2))


def test_an_insert_leaving_a_callable_default_to_peewee_is_refused_at_first_use(app_ctx, people):
    """Peewee would call ``utcnow`` once, at compile time, and every row would get that time."""
    acme = people.subaccount()
    frozen = CachedStatement(lambda subaccount, email: (
        Contact.insert(subaccount=subaccount, email=email, email_normalized=email)), ints=("subaccount",))

    with pytest.raises(ValueError, match="created_at"):
        frozen.insert(subaccount=acme.id, email="bea@example.test")
    assert Contact.select().count() == 0


def test_execute_returns_the_number_of_rows_changed(app_ctx, people):
    acme, other = people.subaccount(), people.subaccount("Other Clinic")
    for email in ("a@example.test", "b@example.test", "c@example.test"):
        contact(acme, email)
    contact(acme, "named@example.test", name="Named")
    contact(other, "a@example.test")

    assert NAME_UNNAMED.execute(name="Guest", subaccount=acme.id) == 3
    assert NAME_UNNAMED.execute(name="Again", subaccount=acme.id) == 0
    assert sorted(c.name for c in Contact.select().where(Contact.subaccount == acme)) == [
        "Guest", "Guest", "Guest", "Named"]
    assert Contact.get(Contact.subaccount == other).name == ""


def test_a_parameter_peewee_would_convert_is_refused(app_ctx):
    """Values are bound as given, so a parameter whose field changes it (encryption, LIKE patterns) cannot compile."""
    by_signing_key = CachedStatement(lambda key: (
        CalendlyConnection.select(CalendlyConnection.id).where(CalendlyConnection.signing_key == key)))
    with pytest.raises(ValueError):
        by_signing_key.rows(key="per-connection-key")

    by_pattern = CachedStatement(lambda text: Contact.select(Contact.id).where(Contact.email.contains(text)))
    with pytest.raises(ValueError):
        by_pattern.rows(text="example")


@pytest.mark.parametrize("build", [
    lambda email: Contact.select(Contact.id).where(Contact.email_normalized == email.strip().lower()),
    lambda email: Contact.select(Contact.id).where(Contact.email == email[:255]),
    lambda email: Contact.select(Contact.id).where((Contact.email == email[:6]) | (Contact.email_normalized == email)),
], ids=["normalized", "cut-to-column", "cut-short"])
def test_a_parameter_changed_in_the_build_is_refused(app_ctx, build):
    """Only Peewee's own handling may touch a parameter: anything the build does to it would be lost."""
    with pytest.raises(ValueError):
        CachedStatement(build).rows(email="  Bea@Example.test ")


# ---------------------------------------------------------------- the pool
@pytest.mark.parametrize("url,pooled", [
    ("sqlite:////srv/calbridge/portal.db", "sqlite+pool:////srv/calbridge/portal.db"),
    ("sqlite:///instance/calbridge.db", "sqlite+pool:///instance/calbridge.db"),
    ("postgresql://calbridge:secret@db.internal:5432/calbridge",
     "postgresql+pool://calbridge:secret@db.internal:5432/calbridge"),
    ("postgres://calbridge@localhost/calbridge?sslmode=require",
     "postgres+pool://calbridge@localhost/calbridge?sslmode=require"),
    # Already pooled: left alone.
    ("sqlite+pool:///instance/calbridge.db", "sqlite+pool:///instance/calbridge.db"),
    ("postgresql+pool://db.internal/calbridge", "postgresql+pool://db.internal/calbridge"),
    # Each :memory: connection is a database of its own: never pooled.
    ("sqlite:///:memory:", "sqlite:///:memory:"),
])
def test_pooled_url(url, pooled):
    assert pooled_url(url) == pooled
    assert pooled_url(pooled) == pooled


@pytest.mark.parametrize("url,cls", [
    ("sqlite:////srv/calbridge/portal.db", PooledSqliteDatabase),
    ("postgresql://calbridge@db.internal/calbridge", PooledPostgresqlDatabase),
])
def test_a_pooled_url_opens_peewees_pool(url, cls):
    assert type(connect(pooled_url(url))) is cls  # nothing is connected yet


def test_the_portal_checks_connections_out_of_a_pool(app):
    assert isinstance(db.obj, PooledDatabase)
    with app.app_context():
        db.connect(reuse_if_open=True)
        first = db.connection()
        db.close()
        db.connect()
        try:
            assert db.connection() is first  # closing gave it back to the pool
        finally:
            db.close()
