"""Demo data for ``make run`` (idempotent): subaccounts, users, a few contacts.

The portal users pair up with the Calendly sandbox's demo accounts
(``sandbox/demo.py``): each one has a Calendly account to connect, on the
plan the description names.
"""
from datetime import timedelta

from portal.extensions import db
from portal.models import Appointment, Contact, Membership, Source, Subaccount, User, normalize_email
from portal.timeutil import utcnow

DEMO_PASSWORD = "calbridge-demo"

DEMO_USERS = [
    {"email": "alice@calbridge.test", "name": "Alice Admin", "memberships": {"Acme Dental": "admin",
                                                                            "Brightside Realty": "user"},
     "description": "admin of Acme Dental, user of Brightside Realty; connect solo@calendly.test (Standard)"},
    {"email": "ava@calbridge.test", "name": "Ava Host", "memberships": {"Acme Dental": "user"},
     "description": "user of Acme Dental; connect ava@calendly.test (Teams, shared round robin)"},
    {"email": "ben@calbridge.test", "name": "Ben Host", "memberships": {"Acme Dental": "user"},
     "description": "user of Acme Dental; connect ben@calendly.test (Teams, shared round robin)"},
    {"email": "fred@calbridge.test", "name": "Fred Free", "memberships": {"Brightside Realty": "admin"},
     "description": "admin of Brightside Realty; free@calendly.test shows the plan refusal"},
    {"email": "tina@calbridge.test", "name": "Tina Trial", "memberships": {"Brightside Realty": "user"},
     "description": "user of Brightside Realty; connect trial@calendly.test (Teams trial)"},
    {"email": "support@calbridge.test", "name": "Sam Support", "memberships": {}, "support": True,
     "description": "support staff: the Support console"},
]

DEMO_CONTACTS = {
    "Acme Dental": [("Grace Hopper", "grace@example.com"), ("Alan Turing", "alan@example.com")],
    "Brightside Realty": [("Ada Lovelace", "ada@example.com")],
}

DEMO_EMAIL_BODY = ("Hello {{ contact.first_name }},\n\n"
                   "Thank you for booking {{ appointment.title }} with {{ subaccount.name }} on "
                   "{{ appointment.start }}.\n\nSee you then!")


def seed():
    """Create what is missing; never touches what a user changed."""
    with db.atomic():
        for spec in DEMO_USERS:
            user = User.get_or_none(User.email == spec["email"])
            if user is None:
                user = User(email=spec["email"], name=spec["name"], is_support=spec.get("support", False))
                user.set_password(DEMO_PASSWORD)
                user.save()
            for sub_name, role in spec["memberships"].items():
                sub, _ = Subaccount.get_or_create(name=sub_name)
                Membership.get_or_create(user=user, subaccount=sub, defaults={"role": role})
        for sub_name, contacts in DEMO_CONTACTS.items():
            sub = Subaccount.get(Subaccount.name == sub_name)
            for name, email in contacts:
                Contact.get_or_create(subaccount=sub, email_normalized=normalize_email(email),
                                      defaults={"email": email, "name": name})
        acme = Subaccount.get(Subaccount.name == "Acme Dental")
        if not Appointment.select().where((Appointment.subaccount == acme) & (Appointment.source == Source.PORTAL)).exists():
            start = (utcnow() + timedelta(days=1)).replace(hour=10, minute=0, second=0, microsecond=0)
            grace = Contact.get(Contact.subaccount == acme, Contact.email_normalized == "grace@example.com")
            alice = User.get(User.email == "alice@calbridge.test")
            Appointment.create(subaccount=acme, source=Source.PORTAL, title="Check-up (booked by phone)",
                               start=start, end=start + timedelta(minutes=30), contact=grace, owner=alice,
                               owner_reason="Created in the portal")
            grace.assigned_user = alice
            grace.save()
        _demo_workflow(acme)


def _demo_workflow(subaccount):
    """A published workflow so a newcomer's first booking visibly fires one (tag, email, task, bell).

    The email goes to the guest; ``make run``'s mail catcher keeps it and Sent emails shows it.
    """
    from portal.automation import step_settings
    from portal.models import Workflow, WorkflowStatus, WorkflowStep

    if Workflow.select().where(Workflow.subaccount == subaccount).exists():
        return
    workflow = Workflow.create(subaccount=subaccount, name="New booking follow-up", status=WorkflowStatus.PUBLISHED,
                               published_at=utcnow())
    steps = [("add_tag", {"tag": "calendly-lead"}),
             ("send_email", {"to": "contact", "subject": "Your {{ appointment.title }} with {{ subaccount.name }}",
                             "body": DEMO_EMAIL_BODY}),
             ("create_task", {"to": "owner", "title": "Call {{ contact.name }} before {{ appointment.start }}",
                              "due_minutes": "1440"}),
             ("notify", {"to": "owner", "text": "{{ contact.name }} booked {{ appointment.title }}"})]
    for position, (kind, form) in enumerate(steps):
        WorkflowStep.create(workflow=workflow, position=position, kind=kind, config=step_settings.parse(kind, form))
