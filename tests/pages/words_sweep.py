"""What the words sweep reads (issue 16 item 5): a subaccount whose data produces every kind of error and
status, the visible text of a page, and the codes no customer should see."""
import re
from datetime import timedelta
from html import unescape
from html.parser import HTMLParser

from portal.extensions import db
from portal.models import (AuditEntry, CalendlyConnection, Enrolment, OutboundEmail, Source, Status, StepRun, Task,
                           WebhookAttempt)
from portal.models.crm import Appointment
from portal.timeutil import utcnow

from sync.helpers import make_connection, one_of_each

# What Calbridge writes in last_error, detail and error columns when things go wrong (the technical text).
REVOKED = ("Calendly refused to renew access (invalid_grant: The refresh token was revoked). "
           "Connect Calendly again to resume syncing.")
RATE_LIMITED = ("Importing from Calendly failed: 429 Too Many Requests: Calbridge is pacing its token requests "
                "to Calendly (API-FACTS §8)")
UNREACHABLE = "Reconciliation with Calendly failed: 503 Service Unavailable: Calendly could not be reached"

FORBIDDEN = {
    "an OAuth error code": re.compile(r"invalid_grant|invalid_client|invalid_token|access_denied"),
    "an HTTP status phrase": re.compile(r"Too Many Requests|Unauthorized|Forbidden|Not Found|Internal Server Error|"
                                        r"Bad Request|Service Unavailable|Bad Gateway|Gateway Timeout|"
                                        r"Permission Denied"),
    "an HTTP status code as text": re.compile(r"(?<![\d,.:/#-])\b[45][0-9]{2}\b(?![\d,.:%-])"),
    "a rule id": re.compile(r"\b[CWEODSRT][0-9]+\b"),
}
# Routes that are not customer pages: support staff's own console (where the detail belongs), the OAuth hops
# to Calendly, the live poll's empty answers, Calendly's webhook intake and static files.
NOT_CUSTOMER_PAGES = ("support.", "static", "connections.connect_calendly", "connections.calendly_callback",
                      "live.", "webhooks.")


class _Text(HTMLParser):
    """The text a person reads: text nodes and the attributes read aloud or shown as hints."""

    SHOWN = ("title", "aria-label", "alt", "placeholder", "aria-description")

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts, self._skip = [], 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self._skip += 1
        self.parts.extend(v for k, v in attrs if k in self.SHOWN and v)
        if tag == "input":
            kind = dict(attrs).get("type", "text")
            if kind in ("submit", "button"):
                self.parts.extend(v for k, v in attrs if k == "value" and v)

    def handle_endtag(self, tag):
        if tag in ("script", "style") and self._skip:
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip:
            self.parts.append(data)


def visible_text(markup):
    parser = _Text()
    parser.feed(markup)
    return unescape(" ".join(" ".join(parser.parts).split()))


def findings(text):
    """``[(what, match)]`` for every code a customer should not read in ``text``."""
    return [(what, m.group(0)) for what, pattern in FORBIDDEN.items() for m in pattern.finditer(text)]


def troubled_subaccount(people, sub_name="Acme Dental"):
    """Alice (admin) and Bob (user) of a subaccount where everything that can go wrong did.

    Alice's connection: Calendly revoked its sign-in. Bob's: the import hit the rate limit. Carol's: Calendly
    unreachable. Plus a round-robin appointment (O2), a failed deletion, a refused email, a failed workflow
    webhook, and Activity entries with rule ids in their detail.
    """
    alice = people.user("alice@acme.test", subaccount=sub_name, role="admin", name="Alice Admin")
    bob = people.user("bob@acme.test", subaccount=sub_name, role="user", name="Bob User")
    carol = people.user("carol@acme.test", subaccount=sub_name, role="user", name="Carol User")
    with db.connection_context():
        sub = people.subaccount(sub_name)
        ids = one_of_each(alice, sub, status=Status.RECONNECT_NEEDED, last_error=REVOKED, failure_count=1)
        bob_conn = make_connection(bob, sub, status=Status.ERROR, last_error=RATE_LIMITED, failure_count=3)
        make_connection(carol, sub, status=Status.ERROR, last_error=UNREACHABLE, failure_count=5)
        start = (utcnow() + timedelta(days=2)).replace(microsecond=0)
        shared = Appointment.create(
            subaccount=sub, source=Source.CALENDLY, title="Intro Call with Pat", start=start,
            end=start + timedelta(minutes=30), owner=bob, contact=ids["contact_id"], calendar_name="Intro Call",
            invitee_uri="https://api.calendly.com/scheduled_events/EVX/invitees/INVX",
            event_uri="https://api.calendly.com/scheduled_events/EVX",
            event_type_uri="https://api.calendly.com/event_types/INTRO", booked_at=start - timedelta(days=1),
            owner_reason="O2: round robin, chosen among 2 members")
        Task.update(error="Deleting stopped on an error: 500 Internal Server Error: database is locked").where(
            Task.id == ids["task_id"]).execute()
        OutboundEmail.update(state="failed", error="The SMTP server refused the recipient (p@acme.test: 550 5.1.1 "
                                                   "User unknown)").where(OutboundEmail.id == ids["email_id"]).execute()
        Enrolment.update(error="Step 1: the webhook answered 404 Not Found").where(
            Enrolment.id == ids["enrolment_id"]).execute()
        run = StepRun.create(enrolment=ids["enrolment_id"], position=0, kind="send_webhook", state="failed",
                             detail="POST https://hooks.example.test/x", error="HTTP 500 Internal Server Error",
                             attempts=3)
        WebhookAttempt.create(step_run=run, url="https://hooks.example.test/x", status_code=503, duration_ms=40)
        for action, target, count, detail in (
                ("calendar.purged", "Intro Call", 1202, "Contacts kept; assigned users recomputed"),
                ("calendar.add", "Intro Call", 0, "W4: selected again after Keep; its earlier coverage is restored"),
                ("calendar.add", "Cleaning", 0, "W3/W4: bookings created from now on are imported"),
                ("calendly.refused", "free@cal.test", 0, "C5 webhook plan gate"),
                ("calendar.delete", "Team intake", 3, "Removed with Delete; shared: the events stay until the 1 "
                                                       "other member also chooses Delete")):
            AuditEntry.create(subaccount=sub, actor=alice, action=action, target=target, count=count,
                              detail=detail)
    ids.update(appointment_id=shared.id, bob_connection_id=bob_conn.id)
    return {"alice": alice, "bob": bob, "carol": carol, "sub": sub, "ids": ids}


def stored_last_errors():
    with db.connection_context():
        return {c.last_error for c in CalendlyConnection.select() if c.last_error}
