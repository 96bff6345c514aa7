"""Workflows as the builder saves them, a local Standard Webhooks receiver, and draining the queues."""
import json
import threading
import time
from datetime import timedelta

from rq import Queue
from rq.worker import SimpleWorker
from standardwebhooks import Webhook
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from portal.automation import step_settings
from portal.devstack import free_port
from portal.models import Workflow, WorkflowStatus, WorkflowStep
from portal.pipeline.workflow_actions import new_secret
from portal.queues import QUEUE_NAMES, get_redis
from portal.timeutil import utcnow


def published(subaccount, steps, name="Welcome", trigger="appointment_booked", published_ago=60, **fields):
    """A published workflow with ``steps`` as (kind, form) pairs, checked like the builder checks them."""
    workflow = Workflow.create(subaccount=subaccount, name=name, trigger=trigger, status=WorkflowStatus.PUBLISHED,
                               published_at=utcnow() - timedelta(seconds=published_ago), **fields)
    for position, (kind, form) in enumerate(steps):
        secret = new_secret() if kind == "send_webhook" else None
        WorkflowStep.create(workflow=workflow, position=position, kind=kind,
                            config=step_settings.parse(kind, form, allow_private=True), secret=secret)
    return workflow


def drain(deadline=30, until=None):
    """Run the queued and due scheduled jobs in this process with a real RQ worker until ``until()`` holds."""
    end = time.monotonic() + deadline
    redis = get_redis()
    while True:
        worker = SimpleWorker([Queue(n, connection=redis) for n in QUEUE_NAMES], connection=redis)
        worker.work(burst=True, with_scheduler=True, logging_level="WARNING")
        if until is None or until():
            return
        if time.monotonic() > end:
            raise AssertionError("the workflow did not get there before the deadline")
        time.sleep(0.2)


def wait_for(check, deadline=60, what="condition"):
    end = time.monotonic() + deadline
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


class Receiver:
    """An HTTP server on this machine that verifies the Standard Webhooks signature of what it gets."""

    def __init__(self):
        self.secret = None
        self.fail_with = None  # an HTTP status to answer with instead of 204
        self.received, self.attempts = [], 0
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self._server = make_server("127.0.0.1", self.port, self._app, threaded=True)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    @Request.application
    def _app(self, request):
        self.attempts += 1
        if self.fail_with:
            return Response("receiver broken", status=self.fail_with)
        body = request.get_data(as_text=True)
        verified = Webhook(self.secret).verify(body, dict(request.headers))
        self.received.append({"id": request.headers["webhook-id"], "body": json.loads(body), "verified": verified})
        return Response(status=204)

    def close(self):
        self._server.shutdown()
