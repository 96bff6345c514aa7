"""Fixtures for Settings > Team (issue 15): the deletion tests' two-member team, plus an admin."""
import os
import sys

import pytest

# The deletion tests' Team (Ann and Bob on the sandbox) and the sync helpers are shared with these tests.
sys.path.insert(0, os.path.join(os.path.dirname(__file__), os.pardir))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), os.pardir, "deletion"))

from deletion_helpers import Team  # noqa: E402


@pytest.fixture
def team(app_ctx, sandbox, people, stack, live_server):
    """Ann and Bob (users) and Ada (admin) of Acme Dental; Ann and Bob have Calendly accounts, not connected."""
    team = Team(stack, sandbox, people)
    team.ada = people.user("ada@acme.test", name="Ada Admin", role="admin")
    return team


class OwnSession:
    """A second browser session, e.g. the member being removed.

    Each request runs in an app context of its own: under ``app_ctx`` the test
    client would reuse the test's context, and with it ``g`` (the signed-in
    user, the current subaccount) of the other session's last request.
    """

    def __init__(self, app):
        self.app, self.client = app, app.test_client()

    def open(self, url, method="GET", **kwargs):
        with self.app.app_context():
            return self.client.open(url, method=method, **kwargs)

    def get(self, url, **kwargs):
        return self.open(url, **kwargs)

    def post(self, url, **kwargs):
        return self.open(url, method="POST", **kwargs)


@pytest.fixture
def member_client(app):
    return OwnSession(app)
