"""Demo data (``SANDBOX_DEMO=1``): accounts for every plan situation, seeded idempotently."""
from datetime import datetime, time, timedelta

from . import accounts, scheduling
from .store import EventType, User, db, utcnow

PASSWORD = "calendly-demo"

DEMO_ACCOUNTS = [
    {"email": "solo@calendly.test", "password": PASSWORD, "name": "Sam Solo", "plan": "professional",
     "stage": "paid", "description": "Standard (professional, paid) solo account: '30 Minute Meeting', 'Intro Call'"},
    {"email": "ava@calendly.test", "password": PASSWORD, "name": "Ava Adams", "plan": "teams", "stage": "paid",
     "description": "Teams org owner: round-robin 'Sales Demo' shared with Ben, personal 'Ava 1:1'"},
    {"email": "ben@calendly.test", "password": PASSWORD, "name": "Ben Brooks", "plan": "teams", "stage": "paid",
     "description": "Member (role user) of Ava's Teams org; host of 'Sales Demo'"},
    {"email": "free@calendly.test", "password": PASSWORD, "name": "Fran Free", "plan": "basic", "stage": "free",
     "description": "Free (basic) plan: API works, webhook subscriptions are refused (403)"},
    {"email": "trial@calendly.test", "password": PASSWORD, "name": "Tara Trial", "plan": "teams", "stage": "trial",
     "description": "Teams trial: webhooks work until the trial lapses (PATCH stage to free)"},
]

TEAM_ORG = "Acme Sales Team"


def _account(spec, organization=None, role=None, org_name=None):
    user = User.get_or_none(User.email == spec["email"])
    if user is not None:
        return user, False
    user, _ = accounts.create_user(spec["name"], spec["email"], spec["password"], plan=spec["plan"],
                                   stage=spec["stage"], timezone="UTC", organization=organization, role=role,
                                   org_name=org_name)
    return user, True


def _event_type(name, hosts, **kwargs):
    existing = EventType.get_or_none(EventType.name == name, EventType.owner == hosts[0])
    return existing or scheduling.create_event_type(name, hosts, **kwargs)


def _next_weekday(days_ahead, hour):
    day = utcnow().date() + timedelta(days=days_ahead)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return datetime.combine(day, time(hour))


def _backfill(event_type, bookings):
    """A few bookings made "yesterday" (so no webhooks fire) for the portal's backfill to find."""
    made = utcnow() - timedelta(days=1)
    for days_ahead, hour, name, email in bookings:
        scheduling.book(event_type, _next_weekday(days_ahead, hour), name, email, created_at=made)


def seed():
    """Create whatever of the demo data is missing; safe to run at every start."""
    by_email = {a["email"]: a for a in DEMO_ACCOUNTS}
    with db.atomic():
        solo, fresh = _account(by_email["solo@calendly.test"])
        thirty = _event_type("30 Minute Meeting", [solo], duration=30,
                             description="A quick video call to get to know each other.")
        intro = _event_type("Intro Call", [solo], duration=15, custom_questions=[
            {"name": "Phone Number", "type": "phone_number", "required": False},
            {"name": "What would you like to discuss?", "type": "text", "required": False}])
        if fresh:
            _backfill(thirty, [(1, 10, "Olivia Patel", "olivia.patel@example.com"),
                               (2, 14, "Noah Kim", "noah.kim@example.com")])
            _backfill(intro, [(3, 9, "Emma Rossi", "emma.rossi@example.com")])

        ava, fresh_team = _account(by_email["ava@calendly.test"], org_name=TEAM_ORG)
        ben, _ = _account(by_email["ben@calendly.test"], organization=ava.organization, role="user")
        sales = _event_type("Sales Demo", [ava, ben], pooling_type="round_robin", duration=30,
                            description="See the product with one of our sales team.",
                            custom_questions=[{"name": "Company Name", "type": "string", "required": True}])
        _event_type("Ava 1:1", [ava], duration=30)
        if fresh_team:
            _backfill(sales, [(1, 11, "Liam Chen", "liam.chen@example.com"),
                              (2, 15, "Mia Novak", "mia.novak@example.com")])

        free, _ = _account(by_email["free@calendly.test"])
        _event_type("15 Minute Chat", [free], duration=15)
        trial, _ = _account(by_email["trial@calendly.test"])
        _event_type("Trial Kickoff", [trial], duration=45)
