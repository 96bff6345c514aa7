"""Settings > Team in a real browser (issue 15): an invited member joins and shares the round robin; removing
them hands their Calendly and appointments over; an agency admin starts a subaccount."""
import re

import pytest
from playwright.sync_api import expect

from browser_steps import connect_at_calendly, connected_row, import_calendars, open_connections, shot, sign_in
from mailcatcher.mailbox import body
from sync.helpers import connect_via_sandbox, wait_for

from portal.extensions import db
from portal.models import Appointment, CalendlyConnection, Contact, Status, Subaccount, User
from portal.sync.ownership import refresh_assigned_user

from deletion_helpers import iso, upcoming

pytestmark = pytest.mark.e2e

STRONG = "violet-harbor-lantern-42"
LINK = re.compile(r"https?://[^\s\"<>]+/invitations/[^\s\"<>]+")


def emailed_link(mailbox, address):
    (message,) = mailbox.wait_for(1, address=address)
    return LINK.search(body(message, "plain")).group(0)


def open_team(page):
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Settings").click()
    expect(page.get_by_role("heading", name="Members")).to_be_visible()


def join(page, link, name):
    page.goto(link)
    page.get_by_label("Your name").fill(name)
    page.get_by_label("Choose a password").fill(STRONG)
    page.get_by_label("Repeat the password").fill(STRONG)
    page.get_by_role("button", name=re.compile("^Join ")).click()


@pytest.fixture
def office(app_ctx, people, sandbox, stack, live_server):
    """Ada (admin of Acme Dental) has Calendly connected with the round-robin Team intake, which Ben also hosts."""
    ada = people.user("ada@acme.test", name="Ada Admin", role="admin")
    org = sandbox.create_user("ada@cal.test", name="Ada Calendly")["organization"]["uri"]
    sandbox.create_user("ben@cal.test", name="Ben Calendly", organization=org)
    intake = sandbox.create_event_type("Team intake", hosts=["ada@cal.test", "ben@cal.test"],
                                       pooling_type="round_robin")
    consult = sandbox.create_event_type("Ben consult", hosts=["ben@cal.test"])
    with db.connection_context():
        sub = Subaccount.get(name="Acme Dental")
        connect_via_sandbox(stack, ada, sub, "ada@cal.test", ["Team intake"])
    return {"ada": ada, "sub": sub, "intake": intake, "consult": consult}


def test_an_invited_member_joins_connects_the_round_robin_and_shares_its_bookings(
        page, office, live_server, sandbox, mailbox, worker):
    sign_in(page, live_server, "ada@acme.test")
    open_team(page)
    page.get_by_role("link", name="Invite member").click()
    invite = page.get_by_role("dialog", name="Invite member")
    invite.get_by_label("Name", exact=True).fill("Ben Ode")
    invite.get_by_label("Email", exact=True).fill("ben@acme.test")
    invite.get_by_label("Role", exact=True).select_option("user")
    shot(page, "team-invite-modal")
    invite.get_by_role("button", name="Send invitation").click()
    expect(page.get_by_text("Invitation sent to ben@acme.test.")).to_be_visible()
    expect(page.get_by_role("row", name="Invitation ben@acme.test")).to_be_visible()
    shot(page, "team-invited")
    size = page.viewport_size
    page.set_viewport_size({"width": 390, "height": 844})
    expect(page.get_by_role("link", name="Invite member")).to_be_visible()
    shot(page, "team-390")
    page.set_viewport_size(size)
    page.get_by_role("button", name="Sign out").click()

    link = emailed_link(mailbox, "ben@acme.test")
    join(page, link, "Ben Ode")
    expect(page.get_by_text("Welcome to Acme Dental.")).to_be_visible()
    page.get_by_role("button", name="Sign out").click()
    page.goto(link)  # the link worked once
    expect(page.get_by_text("This link has already been used.")).to_be_visible()
    shot(page, "invitation-used")
    sign_in(page, live_server, "ben@acme.test", password=STRONG)  # the password he chose
    page.get_by_role("link", name="My profile").click()
    expect(page.get_by_role("heading", name="Sessions")).to_be_visible()
    shot(page, "profile")

    open_connections(page)
    connect_at_calendly(page, "ben@cal.test")
    import_calendars(page, ["Team intake"])
    connected_row(page, "ben@cal.test")

    invitee = sandbox.book(office["intake"]["uri"], iso(upcoming(3, hour=11)), "Gail Guest", "gail@example.com")
    with db.connection_context():
        made = wait_for(lambda: Appointment.get_or_none(Appointment.invitee_uri == invitee["invitee"]),
                        timeout=30, message="the round-robin booking")
        ben = User.get(User.email == "ben@acme.test")
        assert made.owner_id in (office["ada"].id, ben.id) and made.owner_reason.startswith("O2: round robin")


def test_removing_a_member_with_keep_disconnects_them_and_hands_their_appointments_over(
        page, browser, office, live_server, sandbox, people, stack, worker):
    ben = people.user("ben@acme.test", name="Ben Ode")
    people.user("cara@acme.test", name="Cara Cole")
    shared = sandbox.book(office["intake"]["uri"], iso(upcoming(3, hour=9)), "Gail Guest", "gail@example.com")
    personal = sandbox.book(office["consult"]["uri"], iso(upcoming(3, hour=10)), "Hal Guest", "hal@example.com")
    with db.connection_context():
        ben_conn = connect_via_sandbox(stack, ben, office["sub"], "ben@cal.test", ["Team intake", "Ben consult"])
        wait_for(lambda: CalendlyConnection.get_by_id(ben_conn.id).status == Status.CONNECTED, timeout=30,
                 message="Ben's import")
        by_uri = {}
        for booking in (shared, personal):
            by_uri[booking["invitee"]] = wait_for(
                lambda b=booking: Appointment.get_or_none(Appointment.invitee_uri == b["invitee"]), timeout=30,
                message="Ben's bookings")
        # O2's draw for the shared booking, fixed to Ben so his leaving has to move it.
        intake = by_uri[shared["invitee"]]
        Appointment.update(owner=ben).where(Appointment.id == intake.id).execute()
        refresh_assigned_user(intake.contact)

    bens = browser.new_context()
    ben_page = bens.new_page()
    sign_in(ben_page, live_server, "ben@acme.test")

    sign_in(page, live_server, "ada@acme.test")
    open_team(page)
    row = page.get_by_role("row", name="Member ben@acme.test")
    expect(row).to_contain_text("Connected")
    row.get_by_role("link", name="Remove Ben Ode").click()
    expect(page.get_by_role("heading", name="Remove Ben Ode")).to_be_visible()
    expect(page.get_by_text("Their Calendly connection (ben@cal.test) is disconnected")).to_be_visible()
    page.get_by_label("Keep").check()
    page.get_by_label("Give their appointments to").select_option(label="Cara Cole (cara@acme.test)")
    shot(page, "team-remove")
    page.get_by_role("button", name="Remove member").click()
    expect(page.get_by_text("Ben Ode was removed from Acme Dental.")).to_be_visible()
    expect(page.get_by_role("row", name="Member ben@acme.test")).to_have_count(0)

    open_connections(page)
    former = page.get_by_role("row", name="Disconnected Calendly connection ben@cal.test")
    expect(former).to_contain_text("Disconnected")
    with db.connection_context():
        conn = CalendlyConnection.get_by_id(ben_conn.id)
    (subscription,) = [s for s in sandbox.subscriptions() if s["uri"] == conn.webhook_subscription_uri]
    assert subscription["deleted"] is True
    tokens = [t for t in sandbox.tokens() if t["user"].endswith(conn.calendly_user_uri.rsplit("/", 1)[1])]
    assert tokens and all(t["revoked"] or t.get("rotated") for t in tokens)

    # Each appointment shows who has it now and why; the contacts follow.
    for invitee, owner, how in ((shared["invitee"], "Ada Admin", "round robin"),
                                (personal["invitee"], "Cara Cole", "moved to the member chosen by the admin")):
        page.goto(f"{live_server}/calendars/appointments/{by_uri[invitee].id}")
        expect(page.get_by_text(re.compile(f"reassigned: owner removed by Ada Admin .*{how}"))).to_be_visible()
        expect(page.locator("dd", has_text="reassigned: owner removed")).to_contain_text(owner)
    with db.connection_context():
        assert Contact.get(Contact.email_normalized == "gail@example.com").assigned_user_id == office["ada"].id
        assert Contact.get(Contact.email_normalized == "hal@example.com").assigned_user.name == "Cara Cole"

    # Ben's session ended, and signed in again he cannot open Acme Dental.
    ben_page.goto(live_server + "/calendars/settings/connections")
    expect(ben_page.get_by_role("button", name="Sign in")).to_be_visible()
    sign_in(ben_page, live_server, "ben@acme.test", landing=None)
    expect(ben_page.get_by_role("heading", name="Page not found")).to_be_visible()
    bens.close()


def test_an_agency_admin_creates_a_subaccount_and_invites_its_admin(page, live_server, runner, mailbox, worker):
    assert runner.invoke(args=["admin", "create-agency-admin", "boss@agency.test", "--password", STRONG,
                               "--name", "Bea Boss"]).exit_code == 0
    sign_in(page, live_server, "boss@agency.test", password=STRONG, landing="Agency")
    page.get_by_label("Subaccount name").fill("Harbor Clinic")
    page.get_by_role("button", name="Create subaccount").click()
    expect(page.get_by_text("Subaccount Harbor Clinic created.")).to_be_visible()
    row = page.get_by_role("row", name="Manage Harbor Clinic")
    row.get_by_label("Admin's name for Harbor Clinic").fill("Hana Harbor")
    row.get_by_label("Admin's email for Harbor Clinic").fill("hana@harbor.test")
    row.get_by_role("button", name="Invite an admin to Harbor Clinic").click()
    expect(page.get_by_text("Invitation sent to hana@harbor.test to be admin of Harbor Clinic.")).to_be_visible()
    expect(page.get_by_role("row", name="Subaccount Harbor Clinic").locator("td").nth(4)).to_have_text("1")
    shot(page, "agency")
    page.get_by_role("button", name="Sign out").click()

    join(page, emailed_link(mailbox, "hana@harbor.test"), "Hana Harbor")
    expect(page.get_by_text("Welcome to Harbor Clinic.")).to_be_visible()
    open_team(page)
    expect(page.get_by_role("row", name="Member hana@harbor.test")).to_contain_text("Admin")
