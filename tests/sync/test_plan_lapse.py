"""A lapsed Calendly plan is noticed at the next delivery, before the next reconciliation (SPEC C5, issue 12).

Since 3 Nov 2026 Calendly keeps delivering webhooks on the Free plan, so the
delivery is posted to the intake as Calendly would send it, signed with the
connection's key; the plan lives in the sandbox.
"""
import pytest

from portal.models import Appointment, CalendlyConnection, SkipReason, Status, Subaccount, SyncDecision
from portal.queues import get_redis
from portal.pipeline import plan_watch

from .helpers import booking, connect_via_sandbox, envelope, post_delivery

pytestmark = [pytest.mark.slow, pytest.mark.portal_config(RQ_ASYNC=False, CALENDLY_RETRY_BACKOFF_SECONDS=0)]


@pytest.fixture
def ada(private_redis, app_ctx, sandbox, stack, people):
    cal = sandbox.create_user("ada@cal.test", plan="teams", stage="trial")
    cleaning = sandbox.create_event_type("Cleaning", hosts=["ada@cal.test"])
    user = people.user("ada@acme.test")
    conn = connect_via_sandbox(stack, user, Subaccount.get(name="Acme Dental"), "ada@cal.test", ["Cleaning"])
    return conn, cal, cleaning


def deliver(client, conn, cleaning, invitee):
    return post_delivery(client, conn, envelope(booking(cleaning["uri"], invitee=invitee, event=invitee)))


def test_the_first_delivery_after_a_trial_lapses_turns_the_connection_plan_not_supported(ada, client, sandbox):
    conn, cal, cleaning = ada
    assert deliver(client, conn, cleaning, "BEFORE").status_code == 200  # applied inline (RQ_ASYNC off)
    assert Appointment.select().count() == 1

    sandbox.update_user(cal["user"]["uri"], plan="teams", stage="free")  # the trial ends
    get_redis().delete(plan_watch.key(conn.id))  # a minute has passed since the last check
    assert deliver(client, conn, cleaning, "AFTER").status_code == 200  # still acknowledged (stored)
    lapsed = CalendlyConnection.get_by_id(conn.id)
    assert lapsed.status == Status.PLAN_NOT_SUPPORTED and "free tier" in lapsed.last_error
    assert Appointment.select().count() == 1  # not imported through a lapsed plan
    skipped = SyncDecision.select().where(SyncDecision.invitee_uri.endswith("/AFTER")).get()
    assert skipped.reason == SkipReason.PLAN


def test_the_plan_is_read_at_most_once_a_minute_per_connection(ada, client, sandbox):
    conn, cal, cleaning = ada
    deliver(client, conn, cleaning, "FIRST")  # checked now: allowed
    sandbox.update_user(cal["user"]["uri"], plan="teams", stage="free")
    deliver(client, conn, cleaning, "SECOND")  # within the minute: not read again, applied
    assert CalendlyConnection.get_by_id(conn.id).status == Status.CONNECTED
    assert Appointment.select().count() == 2
