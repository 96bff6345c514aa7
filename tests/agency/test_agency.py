"""Agency admins (issue 15): created by the CLI; the Agency area lists, creates and renames subaccounts."""
import pytest

from portal.extensions import db
from portal.models import AuditEntry, CalendlyConnection, Status, Subaccount, User

AGENCY = "/agency/"


@pytest.fixture
def agency_admin(runner):
    result = runner.invoke(args=["admin", "create-agency-admin", "Boss@Agency.test", "--password", "agency-pass-123",
                                 "--name", "Bea Boss"])
    assert result.exit_code == 0, result.output
    assert "boss@agency.test is an agency admin" in result.output
    return "boss@agency.test"


def test_create_agency_admin_makes_an_agency_level_user_who_lands_on_the_agency_area(agency_admin, client, auth):
    with db.connection_context():
        user = User.get(User.email == agency_admin)
        assert user.is_agency_admin and not user.is_support and user.check_password("agency-pass-123")
    resp = auth.login(agency_admin, "agency-pass-123")
    assert resp.status_code == 302 and resp.headers["Location"].endswith(AGENCY)
    page = client.get(AGENCY).get_data(as_text=True)
    assert "<h1>Agency</h1>" in page and "No subaccounts yet." in page


def test_the_agency_area_lists_subaccounts_with_member_and_connection_counts(agency_admin, client, auth, people):
    from tests.sync.helpers import make_connection

    ann = people.user("ann@acme.test", role="admin")
    people.user("bob@acme.test")
    people.user("cy@beacon.test", subaccount="Beacon Labs")
    with db.connection_context():
        make_connection(ann, Subaccount.get(name="Acme Dental"))
        gone = make_connection(people.user("bob@acme.test"), Subaccount.get(name="Acme Dental"),
                               uri="https://api.calendly.com/users/GONE")
        CalendlyConnection.update(status=Status.DISCONNECTED).where(CalendlyConnection.id == gone.id).execute()
    auth.login(agency_admin, "agency-pass-123")
    page = client.get(AGENCY).get_data(as_text=True)
    acme = page[page.index('aria-label="Subaccount Acme Dental"'):]
    cells = [c.split(">", 1)[1] for c in acme[:acme.index("</tr>")].split('<td class="num"')[1:]]
    assert [c[:c.index("<")] for c in cells] == ["2", "1", "1", "0"]  # members, admins, live connections, invitations
    assert 'aria-label="Subaccount Beacon Labs"' in page


def test_an_agency_admin_creates_and_renames_subaccounts_and_bad_names_are_refused(agency_admin, client, auth,
                                                                                   people):
    people.subaccount("Acme Dental")
    auth.login(agency_admin, "agency-pass-123")
    resp = client.post(AGENCY + "subaccounts", data={"name": "  Harbor   Clinic "}, follow_redirects=True)
    assert "Subaccount Harbor Clinic created." in resp.get_data(as_text=True)
    with db.connection_context():
        harbor = Subaccount.get(name="Harbor Clinic")
    for name, message in (("", "Enter a name for the subaccount."),
                          ("acme dental", "A subaccount called acme dental already exists."),
                          ("x" * 121, "Use at most 120 characters for the name.")):
        resp = client.post(AGENCY + "subaccounts", data={"name": name})
        assert resp.status_code == 422 and message in resp.get_data(as_text=True)
    resp = client.post(f"{AGENCY}subaccounts/{harbor.id}/rename", data={"name": "Harbor Dental"},
                       follow_redirects=True)
    assert "Renamed to Harbor Dental." in resp.get_data(as_text=True)
    resp = client.post(f"{AGENCY}subaccounts/{harbor.id}/rename", data={"name": "Acme Dental"})
    assert resp.status_code == 422
    assert client.post(f"{AGENCY}subaccounts/999999/rename", data={"name": "Z"}).status_code == 404
    with db.connection_context():
        assert Subaccount.get_by_id(harbor.id).name == "Harbor Dental"
        assert [e.action for e in AuditEntry.select().order_by(AuditEntry.id)] == ["subaccount.create",
                                                                                   "subaccount.rename"]


def agency_urls(app, subaccount_id):
    """Every (method, URL) of the Agency blueprint, from the app's URL map."""
    from flask import url_for

    with app.test_request_context():
        return [(method, url_for(rule.endpoint, **({"subaccount_id": subaccount_id} if rule.arguments else {})))
                for rule in app.url_map.iter_rules() if rule.endpoint.startswith("agency.")
                for method in sorted(rule.methods - {"HEAD", "OPTIONS"})]


def test_everyone_else_gets_404_in_the_agency_area(app, client, auth, people):
    from portal.models import Invitation

    people.user("admin@acme.test", role="admin")
    people.user("help@agency.test", subaccount=None, support=True)
    sub = people.subaccount("Acme Dental")
    urls = agency_urls(app, sub.id)
    assert ("POST", f"{AGENCY}subaccounts/{sub.id}/invite") in urls and len(urls) >= 4
    for email in ("admin@acme.test", "help@agency.test"):
        auth.login(email)
        for method, url in urls:
            resp = client.open(url, method=method, data={"name": "Hijack", "email": "eve@x.test"})
            assert resp.status_code == 404, (email, method, url)
        auth.logout()
    with db.connection_context():
        assert Subaccount.get_by_id(sub.id).name == "Acme Dental" and Subaccount.select().count() == 1
        assert not Invitation.select().exists()
