"""Fixtures for editing, disconnecting and deleting (SPEC D1-D5, W3-W5)."""
import os
import sys

# The sync package's helpers (real OAuth against the sandbox, waiting) are shared with these tests.
sys.path.insert(0, os.path.join(os.path.dirname(__file__), os.pardir))

from deletion_helpers import Team  # noqa: E402

import pytest  # noqa: E402


@pytest.fixture
def team(app_ctx, sandbox, people, stack, live_server):
    """Ann and Bob of Acme Dental, each with a Calendly account in one organization (not connected yet).

    The portal is served over HTTP (``live_server``) so the sandbox's webhooks reach it.
    """
    return Team(stack, sandbox, people)
