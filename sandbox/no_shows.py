"""Invitee no-shows (API-FACTS §6): mark and undo, through the API
(``/invitee_no_shows``) or the admin API; each fires ``invitee_no_show.created``
or ``.deleted`` with the invitee as payload (API-FACTS §7)."""
from flask import Blueprint, g, jsonify, request

from . import apikit, webhooks
from .apikit import ApiError
from .serializers import no_show_resource, no_show_uri
from .store import Invitee, InviteeNoShow, db, utcnow

bp = Blueprint("no_shows", __name__)
apikit.install(bp)


class NoShowError(ValueError):
    def __init__(self, message, status=409):
        super().__init__(message)
        self.status = status


def mark(invitee):
    """Mark ``invitee`` as a no-show; fires ``invitee_no_show.created``."""
    now = utcnow()
    with db.atomic():
        if InviteeNoShow.select().where(InviteeNoShow.invitee == invitee).exists():
            raise NoShowError("this invitee is already marked as a no-show")
        no_show = InviteeNoShow.create(invitee=invitee, created_at=now)
        invitee.updated_at = now
        invitee.save()
        webhooks.fan_out(invitee, "invitee_no_show.created")
    return no_show


def unmark(no_show):
    """Undo a no-show; fires ``invitee_no_show.deleted`` (the payload's ``no_show`` is null again)."""
    invitee = no_show.invitee
    with db.atomic():
        no_show.delete_instance()
        invitee.updated_at = utcnow()
        invitee.save()
        webhooks.fan_out(invitee, "invitee_no_show.deleted")
    return invitee


# ------------------------------------------------------------------ API
def _visible_no_show(uuid):
    no_show = InviteeNoShow.get_or_none(InviteeNoShow.uuid == uuid)
    if no_show is None or not apikit.sees_event(no_show.invitee.event, g.api_user):
        raise ApiError(404)
    return no_show


@bp.post("/invitee_no_shows")
def create_no_show():
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise apikit.invalid("body", "must be a JSON object")
    if not body.get("invitee"):
        raise apikit.missing("invitee")
    if not isinstance(body["invitee"], str):
        raise apikit.invalid("invitee")
    uuid = apikit.uuid_from_uri(body["invitee"], "invitees", "invitee")
    invitee = Invitee.get_or_none(Invitee.uuid == uuid)
    if invitee is None or not apikit.sees_event(invitee.event, g.api_user):
        raise ApiError(404)
    try:
        no_show = mark(invitee)
    except NoShowError:
        raise apikit.invalid("invitee", "is already marked as a no-show") from None
    return apikit.created(no_show_resource(no_show), no_show_uri(no_show))


@bp.get("/invitee_no_shows/<uuid>")
def get_no_show(uuid):
    return jsonify({"resource": no_show_resource(_visible_no_show(uuid))})


@bp.delete("/invitee_no_shows/<uuid>")
def delete_no_show(uuid):
    unmark(_visible_no_show(uuid))
    return "", 204
