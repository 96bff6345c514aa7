"""``POST /webhooks/calendly/<webhook_token>``: Calendly's deliveries (SPEC C7, E5).

Thin on purpose: read at most ``WEBHOOK_MAX_BODY_BYTES``, hand the raw bytes
to ``portal.pipeline.intake.receive`` (verify, store, enqueue) and answer. Calendly
retries anything but a 2xx for a day, so refusals are 4xx only for requests
that are not genuine deliveries.
"""
import json

from flask import Response, current_app, request

from portal.extensions import csrf
from portal.pipeline import intake
from portal.webhooks import bp


@bp.route("/calendly/<webhook_token>", methods=["POST"], endpoint="calendly")
@csrf.exempt
def calendly(webhook_token):
    limit = current_app.config["WEBHOOK_MAX_BODY_BYTES"]
    if request.content_length is not None and request.content_length > limit:
        reply = intake.refuse_oversize(webhook_token, request.headers, request.content_length)
    else:
        body = request.stream.read(limit + 1)
        if len(body) > limit:
            reply = intake.refuse_oversize(webhook_token, request.headers, len(body))
        else:
            reply = intake.receive(webhook_token, request.headers, body)
    response = Response(_answer(reply.ok, reply.message), status=reply.status, mimetype="application/json")
    if reply.status == 413:
        response.headers["Connection"] = "close"  # the rest of the body is not read
    return response


_ANSWERS = {}


def _answer(ok, message):
    """The JSON body Calendly reads, built once per (outcome, message): the intake's answers are a handful."""
    key = (ok, message)
    if key not in _ANSWERS:
        body = json.dumps({"message": message, "status": "ok" if ok else "refused"}).encode()
        if len(_ANSWERS) > 256:  # refusal reasons carry sizes and tolerances: keep the memo small
            return body
        _ANSWERS[key] = body
    return _ANSWERS[key]
