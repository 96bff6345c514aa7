"""Who may use Settings > Team (issue 15, SPEC T2): admins of the subaccount only; the last admin stays."""
import pytest

from portal.models import Membership

TEAM = "/settings/team/"


@pytest.fixture
def acme(people):
    admin = people.user("admin@acme.test", name="Ada Admin", role="admin")
    user = people.user("uma@acme.test", name="Uma User")
    other = people.user("olga@beacon.test", name="Olga", subaccount="Beacon Labs", role="admin")
    return admin, user, other


def membership(user, name):
    from portal.models import Subaccount

    return Membership.get(user=user, subaccount=Subaccount.get(name=name))


def team_urls(app, **ids):
    """Every (method, URL) of the Team blueprint, from the app's URL map, with ``ids`` as the URL arguments."""
    from flask import url_for

    urls = []
    with app.test_request_context():
        for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
            if rule.endpoint.startswith("team."):
                assert rule.arguments <= ids.keys(), f"no id for {rule.rule}"
                url = url_for(rule.endpoint, **{k: ids[k] for k in rule.arguments})
                urls += [(method, url) for method in sorted(rule.methods - {"HEAD", "OPTIONS"})]
    return urls


def test_a_user_who_is_not_admin_gets_404_on_every_team_url(acme, app, client, auth, app_ctx):
    from portal.models import AuditEntry, Invitation

    admin, user, _ = acme
    invitation = Invitation.create(subaccount=membership(admin, "Acme Dental").subaccount, email="z@x.test",
                                   invited_by=admin)
    urls = team_urls(app, membership_id=membership(admin, "Acme Dental").id, invitation_id=invitation.id)
    assert len(urls) >= 8 and ("POST", f"{TEAM}invitations/{invitation.id}/revoke") in urls
    auth.login("uma@acme.test")
    for method, url in urls:
        resp = client.open(url, method=method, data={"email": "q@x.test", "role": "admin", "answer": "delete",
                                                     "successor": user.id})
        assert resp.status_code == 404, (method, url)
    assert "<span>Settings</span>" not in client.get("/dashboard").get_data(as_text=True)
    assert Membership.get(Membership.id == membership(admin, "Acme Dental").id).role == "admin"
    assert Membership.get(user=user).role == "user"
    assert Invitation.get_by_id(invitation.id).is_pending and Invitation.select().count() == 1
    assert not AuditEntry.select().exists()


def test_another_subaccounts_member_and_invitation_are_a_404_for_an_admin(acme, app, client, auth, app_ctx):
    from portal.models import Invitation

    _, _, other = acme
    theirs = Invitation.create(subaccount=membership(other, "Beacon Labs").subaccount, email="z@x.test",
                               invited_by=other)
    auth.login("admin@acme.test")
    urls = team_urls(app, membership_id=membership(other, "Beacon Labs").id, invitation_id=theirs.id)
    addressed = [(m, u) for m, u in urls if f"/members/{membership(other, 'Beacon Labs').id}/" in u
                 or f"/invitations/{theirs.id}/" in u]
    assert len(addressed) == 5
    for method, url in addressed:
        assert client.open(url, method=method).status_code == 404, url
    assert Membership.get_or_none(user=other) is not None and Invitation.get_by_id(theirs.id).is_pending


def test_the_last_admin_cannot_be_removed_not_even_by_themselves(acme, client, auth, app_ctx):
    admin, user, _ = acme
    auth.login("admin@acme.test")
    page = client.get(TEAM).get_data(as_text=True)
    assert "Remove Uma User" in page and "Remove Ada Admin" not in page
    url = f"{TEAM}members/{membership(admin, 'Acme Dental').id}/remove"
    resp = client.post(url, data={"successor": user.id})
    assert resp.status_code == 422
    assert "Ada Admin is the last admin of Acme Dental: make another member admin first." in resp.get_data(as_text=True)
    assert Membership.get(user=admin).role == "admin"


def test_an_admin_removes_a_member_without_calendly_and_their_portal_appointments_move(acme, client, auth, app_ctx):
    from datetime import timedelta

    from portal.models import Appointment, AuditEntry, Source
    from portal.timeutil import utcnow

    admin, user, _ = acme
    start = utcnow() + timedelta(days=1)
    made = Appointment.create(subaccount=membership(user, "Acme Dental").subaccount_id, source=Source.PORTAL,
                              title="Walk-in", start=start, end=start + timedelta(hours=1), owner=user)
    auth.login("admin@acme.test")
    url = f"{TEAM}members/{membership(user, 'Acme Dental').id}/remove"
    confirm = client.get(url).get_data(as_text=True)
    assert "They have no Calendly connection here." in confirm and "Delete permanently" not in confirm
    assert client.post(url, data={"successor": admin.id}).status_code == 303
    moved = Appointment.get_by_id(made.id)
    assert moved.owner_id == admin.id and moved.owner_reason.startswith("reassigned: owner removed by Ada Admin")
    assert AuditEntry.get(AuditEntry.action == "member.remove").target == "uma@acme.test"


def test_an_admin_changes_roles_but_the_last_admin_stays_admin(acme, client, auth, app_ctx):
    from portal.models import AuditEntry

    admin, user, _ = acme
    auth.login("admin@acme.test")
    role_url = f"{TEAM}members/{{}}/role"
    own = membership(admin, "Acme Dental")
    page = client.post(role_url.format(own.id), data={"role": "user"}, follow_redirects=True).get_data(as_text=True)
    assert "Ada Admin is the last admin of Acme Dental: make another member admin before changing their role." in page
    assert Membership.get_by_id(own.id).role == "admin"

    uma = membership(user, "Acme Dental")
    page = client.post(role_url.format(uma.id), data={"role": "admin"}, follow_redirects=True).get_data(as_text=True)
    assert "Uma User is now admin." in page and Membership.get_by_id(uma.id).role == "admin"
    assert AuditEntry.get(AuditEntry.action == "member.role").target == "uma@acme.test"
    # Now that Uma is admin too, Ada may step down.
    client.post(role_url.format(own.id), data={"role": "user"})
    assert Membership.get_by_id(own.id).role == "user"
    with app_ctx.app_context():  # a context of its own: the test's caches the role of earlier requests in g
        assert client.get(TEAM).status_code == 404  # no longer admin: the Team page is gone for her


def test_the_team_page_shows_last_sign_in_and_calendly_status(acme, client, auth, app_ctx):
    auth.login("uma@acme.test")
    auth.logout()
    auth.login("admin@acme.test")
    page = client.get(TEAM).get_data(as_text=True)
    row = page[page.index('aria-label="Member uma@acme.test"'):]
    row = row[:row.index("</tr>")]
    assert "UTC" in row and "Not connected" in row


def test_invite_member_opens_as_a_dialog_and_a_refusal_keeps_it_open_with_the_message(acme, client, auth, app_ctx):
    auth.login("admin@acme.test")
    assert 'hx-get="/settings/team/invitations/new"' in client.get(TEAM).get_data(as_text=True)
    dialog = client.get(TEAM + "invitations/new", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert '<dialog class="modal" aria-labelledby="invite-title" data-modal data-close-modal>' in dialog and "Send invitation" in dialog and "<h1>" not in dialog
    page = client.get(TEAM + "invitations/new").get_data(as_text=True)  # without JavaScript: the page, dialog open
    assert '<dialog class="modal" aria-labelledby="invite-title" data-modal data-close-modal open>' in page and "<h1>Settings</h1>" in page
    resp = client.post(TEAM + "invitations", data={"name": "Uma", "email": "uma@acme.test", "role": "user"})
    page = resp.get_data(as_text=True)
    assert resp.status_code == 422 and '<dialog' in page
    assert "uma@acme.test is already a member of Acme Dental." in page and 'value="uma@acme.test"' in page


def test_an_admin_who_steps_down_lands_on_the_dashboard_not_a_missing_page(acme, client, auth, app_ctx):
    admin, user, _ = acme
    auth.login("admin@acme.test")
    client.post(f"{TEAM}members/{membership(user, 'Acme Dental').id}/role", data={"role": "admin"})
    resp = client.post(f"{TEAM}members/{membership(admin, 'Acme Dental').id}/role", data={"role": "user"})
    assert resp.status_code == 303 and resp.headers["Location"].endswith("/dashboard")
    with app_ctx.app_context():
        assert "Ada Admin is now user." in client.get("/dashboard").get_data(as_text=True)


def test_an_admin_who_removes_themselves_loses_the_subaccount_and_lands_on_the_dashboard(acme, client, auth,
                                                                                        app_ctx):
    from portal.models import AuditEntry

    admin, user, _ = acme
    auth.login("admin@acme.test")
    client.post(f"{TEAM}members/{membership(user, 'Acme Dental').id}/role", data={"role": "admin"})
    resp = client.post(f"{TEAM}members/{membership(admin, 'Acme Dental').id}/remove", data={"successor": user.id})
    assert resp.status_code == 303 and resp.headers["Location"].endswith("/dashboard")
    assert Membership.get_or_none(user=admin) is None and Membership.get(user=user).role == "admin"
    assert AuditEntry.get(AuditEntry.action == "member.remove").actor_id == admin.id
    with app_ctx.app_context():  # no subaccount left: signed out everywhere
        assert client.get("/dashboard").status_code == 302
