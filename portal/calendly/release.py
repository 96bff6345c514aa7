"""Giving Calbridge's access back at Calendly (SPEC C7, D3): subscription deleted, tokens revoked."""
import logging

from portal.calendly.client import CalendlyClient
from portal.calendly.errors import CalendlyError, TransientError
from portal.models import CalendlyConnection, Status

log = logging.getLogger(__name__)


def revoke_quietly(client):
    try:
        client.revoke()
    except CalendlyError as exc:
        log.warning("could not revoke a Calendly token: %s", exc)


def release_at_calendly(connection_id):
    """C7/D3: delete the webhook subscription and revoke the tokens of a disconnected connection.

    Raises ``TransientError`` when Calendly cannot be reached (the caller
    retries); other refusals are logged, since nothing more can be done with
    the token (an already revoked token cannot delete its subscription, and
    Calendly stops delivering to an address that answers 410). Returns True
    when the subscription is known to be gone.
    """
    connection = CalendlyConnection.get_or_none(CalendlyConnection.id == connection_id)
    if connection is None or connection.status != Status.DISCONNECTED:
        return False
    if not (connection.access_token or connection.refresh_token):
        return connection.webhook_state == "deleted"
    client = CalendlyClient(connection)
    deleted = not connection.webhook_subscription_uri
    try:
        if connection.webhook_subscription_uri:
            try:
                client.delete_webhook_subscription(connection.webhook_subscription_uri)
                deleted = True
            except TransientError:
                raise
            except CalendlyError as exc:
                log.warning("connection %s: webhook subscription not deleted: %s", connection_id, exc)
        client.revoke()
    finally:
        client.close()
    fields = {"access_token": None, "refresh_token": None, "token_expires_at": None}
    if deleted:
        fields["webhook_state"] = "deleted"
    CalendlyConnection.update(**fields).where(CalendlyConnection.id == connection_id).execute()
    return deleted


def release_tokens(connection):
    """Revoke the connection's tokens at Calendly; a refusal is only logged (nothing more can be done)."""
    client = CalendlyClient(connection)
    try:
        client.revoke()
    except CalendlyError as exc:
        log.warning("could not revoke the tokens of connection %s: %s", connection.id, exc)
    finally:
        client.close()
