"""Fixture data and HTML helpers for the support console tests."""
import secrets
from datetime import timedelta
from html.parser import HTMLParser

from portal.extensions import db
from portal.models import (
    CalendarSelection,
    CalendlyConnection,
    DeliveryState,
    Outcome,
    SyncDecision,
    WebhookDelivery,
)
from portal.timeutil import utcnow

# Known secret values: no console page or JSON may ever contain them.
ACCESS_TOKEN = "acc-TOKEN-5f1e2d3c4b5a69788796a5b4c3d2e1f0"
REFRESH_TOKEN = "ref-TOKEN-0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d"
SIGNING_KEY = "sig-KEY-9c8b7a6f5e4d3c2b1a0f9e8d7c6b5a49"
API = "https://api.calendly.com"


class Builder:
    """Creates connections, selections, deliveries and decisions as the sync engine would."""

    def __init__(self, people):
        self.people = people
        self.now = utcnow()

    def connection(self, owner, subaccount="Acme Dental", calendly_email=None, status="connected", **fields):
        user = self.people.user(owner, subaccount=subaccount)
        sub = self.people.subaccount(subaccount)
        slug = secrets.token_hex(4).upper()
        values = dict(
            subaccount=sub,
            user=user,
            calendly_user_uri=f"{API}/users/U{slug}",
            calendly_email=calendly_email or owner.replace("@", ".cal@"),
            calendly_name=owner.split("@")[0].title(),
            plan="professional",
            stage="paid",
            status=status,
            access_token=ACCESS_TOKEN,
            refresh_token=REFRESH_TOKEN,
            signing_key=SIGNING_KEY,
            webhook_token=secrets.token_urlsafe(24),
            webhook_subscription_uri=f"{API}/webhook_subscriptions/W{slug}",
            webhook_state="active",
            connected_at=self.now - timedelta(days=30),
        )
        values.update(fields)
        with db.connection_context():
            return CalendlyConnection.create(**values)

    def calendar(self, connection, name, uuid=None, **fields):
        with db.connection_context():
            return CalendarSelection.create(
                connection=connection, name=name, event_type_uri=f"{API}/event_types/{uuid or name.upper()}",
                selected_from=connection.connected_at, includes_backfill=True, **fields,
            )

    def decision(self, connection, outcome=Outcome.IMPORTED, reason=None, rule="W2", detail="", ago=None,
                 invitee=None, event=None, email="guest@example.com", via="webhook", delivery=None):
        event = event or f"{API}/scheduled_events/E{secrets.token_hex(4).upper()}"
        invitee = invitee or f"{event}/invitees/I{secrets.token_hex(4).upper()}"
        with db.connection_context():
            return SyncDecision.create(
                subaccount=connection.subaccount_id, connection=connection, delivery=delivery, via=via,
                invitee_uri=invitee, event_uri=event, event_type_uri=f"{API}/event_types/INTRO",
                invitee_email=email, outcome=outcome, reason=reason, rule=rule,
                detail=detail or (f"{rule}: created while the calendar was selected" if rule else ""),
                at=self.now - (ago if ago is not None else timedelta(minutes=5)),
            )

    def delivery(self, connection, state=DeliveryState.APPLIED, ago=None, invitee=None, error=None,
                 body="", event="invitee.created"):
        with db.connection_context():
            return WebhookDelivery.create(
                connection=connection, webhook_token=connection.webhook_token, event=event,
                received_at=self.now - (ago if ago is not None else timedelta(minutes=5)),
                invitee_uri=invitee, state=state, error=error, body=body, attempts=1 if error else 0,
            )


class _Rows(HTMLParser):
    """The text of each table body row, cell by cell."""

    def __init__(self):
        super().__init__()
        self.rows, self._row, self._cell, self._in_body = [], None, None, False

    def handle_starttag(self, tag, attrs):
        if tag == "tbody":
            self._in_body = True
        elif tag == "tr" and self._in_body:
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.rows.append(self._row)
            self._row = None
        elif tag == "tbody":
            self._in_body = False

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def table_rows(html):
    parser = _Rows()
    parser.feed(html)
    return parser.rows


def text_of(html):
    """The visible text of a page, whitespace collapsed."""
    parser = HTMLParser()
    chunks = []
    parser.handle_data = chunks.append
    parser.feed(html)
    return " ".join(" ".join(chunks).split())
