"""The Workflows pages: admins build, users read, templates checked at Save, T2 404s."""
import pytest

from portal.models import Contact, Enrolment, FollowUpTask, Notification, Subaccount, Workflow, WorkflowStep
from portal.timeutil import utcnow


@pytest.fixture
def admin(app, people, auth):
    people.user("admin@acme.test", role="admin")
    auth.login("admin@acme.test")
    return auth


def create(client, name="Welcome"):
    resp = client.post("/workflows/new", data={"name": name})
    assert resp.status_code == 303
    return int(resp.headers["Location"].rstrip("/").split("/")[-1])


def test_an_admin_builds_reorders_and_publishes_a_workflow(client, admin):
    wid = create(client)
    htmx = {"HX-Request": "true"}
    assert client.post(f"/workflows/{wid}/steps", data={"kind": "add_tag", "tag": "calendly-lead"},
                       headers=htmx).status_code == 200
    resp = client.post(f"/workflows/{wid}/steps", data={"kind": "create_task", "to": "owner",
                                                        "title": "Call {{ contact.name }}", "due_minutes": "60"},
                       headers=htmx)
    assert resp.status_code == 200 and "Create task “Call {{ contact.name }}”" in resp.get_data(as_text=True)
    second = WorkflowStep.get(WorkflowStep.position == 1)
    client.post(f"/workflows/{wid}/steps/{second.id}/move", data={"direction": "up"}, headers=htmx)
    assert [s.kind for s in WorkflowStep.select().order_by(WorkflowStep.position)] == ["create_task", "add_tag"]
    client.post(f"/workflows/{wid}/steps/{second.id}/remove", headers=htmx)
    assert [s.kind for s in WorkflowStep.select()] == ["add_tag"]
    client.post(f"/workflows/{wid}/status", data={"status": "published"})
    page = client.get("/workflows/").get_data(as_text=True)
    assert "Welcome" in page and "Published" in page and "Appointment booked" in page


@pytest.mark.parametrize("title, refusal", [
    ("Call {{ contact.nme }}", "Task title, line 1: unknown field contact.nme"),
    ("Hi\n{{ config }}", "Task title, line 2: unknown field config"),
    ("{{ contact.__class__ }}", "names starting with _ are never allowed"),
    ("{{ contact.name ", "Task title, line 1: template error"),
])
def test_a_template_with_an_unknown_field_or_python_access_is_refused_at_save(client, admin, title, refusal):
    wid = create(client)
    resp = client.post(f"/workflows/{wid}/steps", data={"kind": "create_task", "to": "owner", "title": title},
                       headers={"HX-Request": "true"})
    assert resp.status_code == 422 and refusal in resp.get_data(as_text=True)
    assert WorkflowStep.select().count() == 0


def test_a_webhook_to_a_private_address_is_refused_unless_allowed(client, admin, app):
    app.config["WEBHOOK_ALLOW_PRIVATE"] = False
    wid = create(client)
    for url in ("http://127.0.0.1:9/hook", "http://10.1.2.3/x", "http://169.254.169.254/latest", "ftp://example.com/"):
        resp = client.post(f"/workflows/{wid}/steps", data={"kind": "send_webhook", "url": url},
                           headers={"HX-Request": "true"})
        assert resp.status_code == 422, url
    app.config["WEBHOOK_ALLOW_PRIVATE"] = True
    resp = client.post(f"/workflows/{wid}/steps", data={"kind": "send_webhook", "url": "http://127.0.0.1:9/hook"},
                       headers={"HX-Request": "true"})
    page = resp.get_data(as_text=True)
    secret = WorkflowStep.get().secret
    assert "shown once" in page and secret in page
    assert secret not in client.get(f"/workflows/{wid}").get_data(as_text=True)  # once only


def test_another_subaccounts_workflow_enrolment_and_task_urls_are_404(client, app, people, auth):
    people.user("admin@acme.test", role="admin")
    other = Subaccount.create(name="Other Co")
    w = Workflow.create(subaccount=other, name="Theirs")
    step = WorkflowStep.create(workflow=w, position=0, kind="add_tag", config='{"tag": "x"}')
    contact = Contact.create(subaccount=other, email="x@example.com", email_normalized="x@example.com")
    e = Enrolment.create(workflow=w, subaccount=other, contact=contact, state="failed")
    task = FollowUpTask.create(subaccount=other, contact=contact, title="Theirs", due_at=utcnow())
    note = Notification.create(subaccount=other, user=people.user("o@other.test", subaccount="Other Co"), text="n")
    auth.login("admin@acme.test")
    for method, url in [("get", f"/workflows/{w.id}"), ("get", f"/workflows/{w.id}/history"),
                        ("post", f"/workflows/{w.id}/settings"), ("post", f"/workflows/{w.id}/status"),
                        ("post", f"/workflows/{w.id}/steps"), ("post", f"/workflows/{w.id}/steps/{step.id}/remove"),
                        ("post", f"/workflows/{w.id}/test"), ("get", f"/workflows/enrolments/{e.id}"),
                        ("post", f"/workflows/enrolments/{e.id}/retry"), ("post", f"/tasks/{task.id}/done"),
                        ("get", f"/tasks/notifications/{note.id}")]:
        assert getattr(client, method)(url).status_code == 404, url


def test_a_user_sees_workflows_read_only(client, app, people, auth):
    people.user("admin@acme.test", role="admin")
    people.user("user@acme.test", role="user")
    sub = Subaccount.get(name="Acme Dental")
    w = Workflow.create(subaccount=sub, name="Welcome")
    auth.login("user@acme.test")
    page = client.get(f"/workflows/{w.id}").get_data(as_text=True)
    assert "Welcome" in page and "Add step" not in page and "Publish" not in page
    assert client.post(f"/workflows/{w.id}/status", data={"status": "published"}).status_code == 404
    assert Workflow.get().status == "draft"


def test_a_user_sets_a_portal_appointments_status_with_history_and_it_starts_a_status_workflow(client, admin, app_ctx):
    from datetime import timedelta

    from portal.models import Appointment, DomainEvent, StatusChange
    from portal.pipeline import workflows
    sub = Subaccount.get(name="Acme Dental")
    w = Workflow.create(subaccount=sub, name="Showed up", trigger="appointment_status_changed",
                        trigger_statuses="showed", status="published", published_at=utcnow() - timedelta(seconds=5))
    WorkflowStep.create(workflow=w, position=0, kind="add_tag", config='{"tag": "showed"}')
    start = utcnow() + timedelta(days=1)
    client.post("/calendars/appointments/new", data={
        "title": "Check-up", "start": start.strftime("%Y-%m-%dT%H:%M"),
        "end": (start + timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M"), "contact_email": "pat@example.com"})
    a = Appointment.get(Appointment.title == "Check-up")
    for status in ("confirmed", "showed"):
        assert client.post(f"/calendars/appointments/{a.id}/status", data={"status": status}).status_code == 303
    page = client.get(f"/calendars/appointments/{a.id}").get_data(as_text=True)
    assert "Status history" in page and "Confirmed → <strong>Showed</strong>" in page
    assert [(c.from_status, c.to_status, c.origin) for c in StatusChange.select().order_by(StatusChange.id)] == [
        ("booked", "confirmed", "person"), ("confirmed", "showed", "person")]
    assert DomainEvent.select().where(DomainEvent.kind == "appointment_booked").count() == 1
    workflows.match_pending()
    assert [e.event.to_value for e in Enrolment.select()] == ["showed"]


def test_the_backfill_switch_is_saved_per_connection_off_by_default(client, admin, app_ctx):
    from portal.models import CalendlyConnection, User
    from tests.sync.helpers import make_connection
    conn = make_connection(User.get(User.email == "admin@acme.test"), Subaccount.get(name="Acme Dental"))
    assert not conn.backfill_starts_workflows
    client.post(f"/calendars/settings/connections/{conn.id}/backfill-workflows",
                data={"backfill_starts_workflows": "on"})
    assert CalendlyConnection.get_by_id(conn.id).backfill_starts_workflows is True
    client.post(f"/calendars/settings/connections/{conn.id}/backfill-workflows", data={})
    assert CalendlyConnection.get_by_id(conn.id).backfill_starts_workflows is False
