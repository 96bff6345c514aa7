"""Fixtures for the Connections page and the connect flow (SPEC C1-C7)."""
import os
import sys

import pytest

# The sandbox OAuth helpers live with the Calendly client tests.
sys.path.insert(0, os.path.join(os.path.dirname(__file__), os.pardir, "calendly"))

from connections_helpers import ConnectFlow  # noqa: E402


@pytest.fixture
def flow(client, stack, sandbox):
    return ConnectFlow(client, stack)


@pytest.fixture
def ann(people, auth):
    """Ann, a user of Acme Dental, signed in."""
    user = people.user("ann@acme.test")
    auth.login("ann@acme.test")
    return user
