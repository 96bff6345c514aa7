"""Fixtures of the support console tests."""
import pytest
from rq.registry import FailedJobRegistry

from portal.queues import QUEUE_NAMES, get_redis

from .console_helpers import Builder


@pytest.fixture(autouse=True)
def _no_failed_jobs(app):
    """The suite's fixtures empty the queues; the failed-job registries are emptied here."""
    with app.app_context():
        redis = get_redis()
        for name in QUEUE_NAMES:
            registry = FailedJobRegistry(name, connection=redis)
            for job_id in registry.get_job_ids():
                registry.remove(job_id, delete_job=True)
    yield


@pytest.fixture
def build(people):
    return Builder(people)


@pytest.fixture
def support_client(client, people, auth):
    """A test client signed in as support staff who belong to no subaccount."""
    people.user("support@agency.test", subaccount=None, support=True)
    auth.login("support@agency.test")
    return client
