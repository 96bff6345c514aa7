"""Connection alerts (S1): one email when a connection breaks, a banner until it is fixed, one when it recovers."""
import pytest

from mailcatcher.mailbox import body
from portal.calendly import CalendlyClient, ReconnectNeeded
from portal.extensions import db
from portal.mail import connection_alerts
from portal.models import CalendlyConnection, ConnectionAlert, MailState, OutboundEmail, Status, Subaccount
from tests.mail.mail_helpers import wait_until
from tests.sync.helpers import authorization_code, connect_via_sandbox, exchange_code

BANNER = "Calendly connection: Reconnect needed"


def alerts(mailbox, address):
    return [m for m in mailbox.to(address) if m["Subject"].startswith("Calendly connection")]


def all_sent():
    rows = list(OutboundEmail.select())
    return rows and all(r.state == MailState.SENT for r in rows)


@pytest.mark.slow
def test_revoked_token_alerts_the_owner_once_shows_the_banner_and_reconnecting_sends_the_recovery(
        app_ctx, client, auth, people, sandbox, worker, mailbox, stack):
    ada = people.user("ada@acme.test", name="Ada Admin", role="admin")
    people.user("ben@acme.test", name="Ben")  # a teammate: no banner, no email for him
    sub = Subaccount.get(name="Acme Dental")
    sandbox.create_user("ada@cal.test", name="Ada Calendly")
    cleaning = sandbox.create_event_type("Cleaning", hosts=["ada@cal.test"])
    connection = connect_via_sandbox(stack, ada, sub, "ada@cal.test", [cleaning["uri"]])
    wait_until(lambda: CalendlyConnection.get_by_id(connection.id).status == Status.CONNECTED, message="connected")

    sandbox.revoke_all_tokens(connection.calendly_user_uri)  # the user removed the app's access in Calendly
    with pytest.raises(ReconnectNeeded):
        CalendlyClient(CalendlyConnection.get_by_id(connection.id)).me()  # the next sync call finds out
    (alert,) = mailbox.wait_for(1, address="ada@acme.test")
    assert alert["Subject"] == "Calendly connection needs attention: Reconnect needed"
    text = body(alert, "plain")
    assert "changed to: Reconnect needed" in text and "press Reconnect" in text
    assert f"{stack['portal_url']}/calendars/settings/connections" in text

    auth.login("ada@acme.test")
    for path in ("/dashboard", "/contacts/", "/emails/"):
        assert BANNER in client.get(path).get_data(as_text=True), path
    auth.logout()
    auth.login("ben@acme.test")
    assert BANNER not in client.get("/dashboard").get_data(as_text=True)
    auth.logout()

    # The same episode again (another failed call, the sweep): no second email.
    with pytest.raises(ReconnectNeeded):
        CalendlyClient(CalendlyConnection.get_by_id(connection.id)).me()
    assert connection_alerts.check(connection.id) == "already alerted"
    connection_alerts.sweep()
    wait_until(all_sent, message="every email handed over")
    assert ConnectionAlert.get(connection=connection.id).alerts_sent == 1
    assert len(alerts(mailbox, "ada@acme.test")) == 1 and mailbox.to("ben@acme.test") == []

    # The owner connects the same Calendly account again.
    from portal.connections import service

    redirect_uri = stack["portal_url"] + "/connections/calendly/callback"
    code, verifier = authorization_code(stack["sandbox_url"], stack["creds"]["client_id"], redirect_uri, "ada@cal.test")
    service.connect_from_oauth(ada, sub, exchange_code(stack, code, verifier, redirect_uri))
    assert CalendlyConnection.get_by_id(connection.id).status == Status.CONNECTED
    recovered = mailbox.wait_for(2, address="ada@acme.test")[1]
    assert recovered["Subject"] == "Calendly connection working again"
    assert "is working again" in body(recovered, "plain")
    auth.login("ada@acme.test")
    assert BANNER not in client.get("/dashboard").get_data(as_text=True)
    wait_until(all_sent, message="every email handed over")
    assert len(alerts(mailbox, "ada@acme.test")) == 2
    # Both are on the subaccount's Sent emails page.
    page = client.get("/emails/").get_data(as_text=True)
    assert "Calendly connection needs attention: Reconnect needed" in page and "Calendly connection working again" in page
