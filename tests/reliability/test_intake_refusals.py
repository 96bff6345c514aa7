"""Anyone can post to the webhook intake: refusals are answered, kept small, and rate limited (issue 12, item 3).

Every request goes through the real intake route; the database growth is
measured on the database itself (SQLite pages in use after a checkpoint, or
the rows' bytes on PostgreSQL).
"""
import json

import pytest

from portal.calendly import signatures
from portal.extensions import db
from portal.models import DeliveryState, Subaccount, WebhookDelivery
from sync.helpers import booking, envelope, make_connection, select

pytestmark = pytest.mark.reliability

ET = "https://api.calendly.com/event_types/CLEANING"
KEY = "the-connection-signing-key"
HEADER_NAMES = [f"X-Padding-{n}" for n in range(10)]


@pytest.fixture
def conn(app, app_ctx, people, own_redis):
    app.config["REDIS_URL"] = own_redis.url
    ada = people.user("ada@acme.test")
    mine = make_connection(ada, Subaccount.get(name="Acme Dental"), signing_key=KEY)
    select(mine, ET, "Cleaning")
    return mine


def padded_headers(total_bytes):
    """Ten made-up headers of ``total_bytes`` together, plus a bad signature."""
    each = total_bytes // len(HEADER_NAMES)
    headers = {name: "v" * (each - len(name)) for name in HEADER_NAMES}
    headers["Content-Type"] = "application/json"
    headers[signatures.HEADER] = "t=1,v1=" + "0" * 4000
    return headers


def refuse(client, token, headers=None, body=b"{}"):
    headers = headers or {"Content-Type": "application/json", signatures.HEADER: "t=1,v1=00"}
    return client.post(f"/webhooks/calendly/{token}", data=body, headers=headers)


def bytes_in_use():
    """What the inbox occupies: SQLite pages in use after a checkpoint, or the inbox rows' bytes on PostgreSQL."""
    if db.obj.for_update:  # PostgreSQL
        table = WebhookDelivery._meta.table_name
        return db.execute_sql(f"SELECT coalesce(sum(pg_column_size(w.*)), 0) FROM {table} w").fetchone()[0]
    db.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    page_size = db.execute_sql("PRAGMA page_size").fetchone()[0]
    pages = db.execute_sql("PRAGMA page_count").fetchone()[0] - db.execute_sql("PRAGMA freelist_count").fetchone()[0]
    return pages * page_size


@pytest.mark.portal_config(WEBHOOK_REFUSALS_PER_TOKEN_PER_MINUTE=1000, WEBHOOK_REFUSALS_PER_MINUTE=1000)
def test_100_refused_requests_with_700_kb_of_headers_grow_the_database_by_less_than_1_mb(client, conn):
    raw = json.dumps(envelope(booking(ET))).encode()
    body = raw + b" " * (200_000 - len(raw))  # under the size limit: 200 KB each of what an attacker sends
    before = bytes_in_use()
    sent = 0
    for n in range(100):
        headers = padded_headers(7_000)
        sent += sum(len(k) + len(v) for k, v in headers.items())
        token = conn.webhook_token if n % 2 else f"made-up-token-{n}"
        assert refuse(client, token, headers, body).status_code in (401, 404)
    assert sent >= 700_000
    grown = bytes_in_use() - before
    assert grown < 1_000_000, f"100 refusals grew the database by {grown:,} bytes"

    refused = list(WebhookDelivery.select())
    assert len(refused) == 100 and {d.state for d in refused} == {DeliveryState.REJECTED}
    for d in refused:
        kept = json.loads(d.headers)
        assert not any(name in kept for name in HEADER_NAMES)  # only named headers are kept
        assert len(kept[signatures.HEADER]) == 200
        assert kept["_refused"]["header_bytes"] >= 7_000 and kept["_refused"]["body_bytes"] == 200_000
        assert len(d.body.encode()) <= 1024 and len(d.webhook_token) <= 64
    assert {d.error for d in refused} == {"no connection has this webhook address",
                                         "signature timestamp outside the 180 s tolerance"}


@pytest.mark.portal_config(WEBHOOK_REFUSALS_PER_TOKEN_PER_MINUTE=5, WEBHOOK_REFUSALS_PER_MINUTE=10)
def test_refusals_beyond_the_rate_limits_are_answered_but_not_recorded(client, conn):
    answers = [refuse(client, conn.webhook_token).status_code for _ in range(7)]
    assert answers == [401] * 7  # every refusal is answered with its reason ...
    assert WebhookDelivery.select().count() == 5  # ... only the first five of one address are kept

    assert refuse(client, "another-address").status_code == 404  # the per-address limit is per address
    assert WebhookDelivery.select().where(WebhookDelivery.webhook_token == "another-address").count() == 1
    for n in range(5):  # the global limit counts every refusal: the 9th and 10th are kept, no later one
        assert refuse(client, f"spray-{n}").status_code == 404
    assert WebhookDelivery.select().count() == 8

    # A genuine delivery is never limited.
    raw = json.dumps(envelope(booking(ET))).encode()
    resp = client.post(f"/webhooks/calendly/{conn.webhook_token}", data=raw,
                       headers={"Content-Type": "application/json", signatures.HEADER: signatures.sign(KEY, raw)})
    assert resp.status_code == 200
    assert WebhookDelivery.select().where(WebhookDelivery.state != DeliveryState.REJECTED).count() == 1


def test_refusals_are_answered_but_not_recorded_while_redis_cannot_count_them(client, conn, own_redis):
    own_redis.stop()
    assert refuse(client, conn.webhook_token).status_code == 401
    assert refuse(client, "made-up").status_code == 404
    assert WebhookDelivery.select().count() == 0


def test_an_oversize_refusal_records_its_size_and_no_body(client, conn, app):
    limit = app.config["WEBHOOK_MAX_BODY_BYTES"]
    resp = refuse(client, conn.webhook_token, body=b"x" * (limit + 10))
    assert resp.status_code == 413
    (d,) = WebhookDelivery.select()
    sizes = json.loads(d.headers)["_refused"]
    assert d.body == "" and (sizes["status"], sizes["body_bytes"]) == (413, limit + 10)
    assert d.error == f"body of {limit + 10} bytes is over the {limit}-byte limit"
