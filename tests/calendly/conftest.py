"""Fixtures for the Calendly client tests: a real sandbox account and a saved connection."""
import secrets
from datetime import timedelta

import pytest

from portal.extensions import db
from portal.models import CalendlyConnection, Status
from portal.timeutil import utcnow

from calendly_oauth_flow import authorize, exchange_code


@pytest.fixture
def calendly_account(sandbox, stack):
    """A paid sandbox account, signed in through the real OAuth pages; returns its token and URIs."""

    def make(email="host@calendly.test", plan="professional", stage="paid"):
        created = sandbox.create_user(email, plan=plan, stage=stage)
        callback = authorize(stack, email)
        token = exchange_code(stack, callback["code"])
        return {"user": created["user"], "organization": created["organization"], "token": token}

    return make


@pytest.fixture
def connection(app_ctx, people, calendly_account):
    """A saved, live connection of a portal user to a fresh sandbox account."""
    account = calendly_account()
    user = people.user("owner@acme.test")
    sub = people.subaccount()
    token = account["token"]
    conn = CalendlyConnection.create(
        subaccount=sub, user=user, calendly_user_uri=account["user"]["uri"],
        calendly_email=account["user"]["email"], calendly_name=account["user"]["name"],
        organization_uri=account["organization"]["uri"], plan="professional", stage="paid",
        access_token=token["access_token"], refresh_token=token["refresh_token"],
        token_expires_at=utcnow() + timedelta(seconds=token["expires_in"]),
        status=Status.CONNECTED, webhook_token=secrets.token_urlsafe(16), connected_at=utcnow(),
    )
    return conn


@pytest.fixture
def reload():
    def _reload(conn):
        with db.connection_context():
            return CalendlyConnection.get_by_id(conn.id)
    return _reload
