"""Calendly API v2 resources: users, organizations, memberships, event types,
scheduled events and invitees (API-FACTS §4-6). Bearer auth on every call."""
from flask import Blueprint, g, jsonify, request

from . import apikit, scheduling
from .apikit import ApiError
from .serializers import (
    event_resource,
    event_type_membership_resource,
    event_type_resource,
    invitee_resource,
    membership_resource,
    organization_resource,
    user_resource,
)
from .store import (
    EventMembership,
    EventType,
    EventTypeHost,
    Invitee,
    Membership,
    Organization,
    ScheduledEvent,
    User,
    utcnow,
)

bp = Blueprint("api", __name__)
apikit.install(bp)


def _caller():
    return g.api_user


# ------------------------------------------------------------------ users & organizations
@bp.get("/users/me")
def users_me():
    return jsonify({"resource": user_resource(_caller())})


@bp.get("/users/<uuid>")
def get_user(uuid):
    user = User.get_or_none(User.uuid == uuid)
    if user is None or not apikit.shares_org(_caller(), user):
        raise ApiError(404)
    return jsonify({"resource": user_resource(user)})


@bp.get("/organizations/<uuid>")
def get_organization(uuid):
    org = Organization.get_or_none(Organization.uuid == uuid)
    if org is None or apikit.role_in(_caller(), org) is None:
        raise ApiError(404)
    return jsonify({"resource": organization_resource(org)})


@bp.get("/organization_memberships")
def list_memberships():
    caller = _caller()
    user = apikit.resource_param("user", "users", User)
    org = apikit.resource_param("organization", "organizations", Organization)
    if user is None and org is None:
        raise apikit.missing("organization")
    query = Membership.select(Membership, User).join(User)
    if org is not None:
        if apikit.role_in(caller, org) is None:
            raise ApiError(403)
        query = query.where(Membership.organization == org)
    if user is not None:
        if not apikit.shares_org(caller, user):
            raise ApiError(403)
        query = query.where(Membership.user == user)
    email = request.args.get("email")
    if email:
        query = query.where(User.email == email.strip().lower())
    return jsonify(apikit.paginate(query, Membership, [("created_at", False)], membership_resource))


@bp.get("/organization_memberships/<uuid>")
def get_membership(uuid):
    membership = Membership.get_or_none(Membership.uuid == uuid)
    if membership is None or apikit.role_in(_caller(), membership.organization) is None:
        raise ApiError(404)
    return jsonify({"resource": membership_resource(membership)})


# ------------------------------------------------------------------ event types
@bp.get("/event_types")
def list_event_types():
    caller = _caller()
    user = apikit.resource_param("user", "users", User)
    org = apikit.resource_param("organization", "organizations", Organization)
    if user is None and org is None:
        raise apikit.missing("user")
    query = EventType.select().where(EventType.deleted_at.is_null())
    if org is not None:
        if not apikit.is_admin(caller, org):
            raise ApiError(403)
        query = query.where(EventType.organization == org)
    if user is not None:
        if not apikit.shares_org(caller, user):
            raise ApiError(403)
        hosted = EventTypeHost.select(EventTypeHost.event_type).where(EventTypeHost.user == user)
        query = query.where(EventType.id.in_(hosted))
    active = apikit.bool_param("active")
    if active is not None:
        query = query.where(EventType.active == active)
    order = apikit.sort_param(("name", "position", "created_at", "updated_at"), "name:asc")
    return jsonify(apikit.paginate(query, EventType, order, event_type_resource))


def _visible_event_type(uuid):
    event_type = EventType.get_or_none(EventType.uuid == uuid)
    if event_type is None or apikit.role_in(_caller(), event_type.organization) is None:
        raise ApiError(404)
    return event_type


@bp.get("/event_types/<uuid>")
def get_event_type(uuid):
    return jsonify({"resource": event_type_resource(_visible_event_type(uuid))})


@bp.get("/event_type_memberships")
def list_event_type_memberships():
    if not request.args.get("event_type"):
        raise apikit.missing("event_type")
    uuid = apikit.uuid_from_uri(request.args["event_type"], "event_types", "event_type")
    event_type = _visible_event_type(uuid)
    query = EventTypeHost.select().where(EventTypeHost.event_type == event_type)
    return jsonify(apikit.paginate(query, EventTypeHost, [("created_at", False)], event_type_membership_resource))


# ------------------------------------------------------------------ scheduled events
@bp.get("/scheduled_events")
def list_scheduled_events():
    caller = _caller()
    user = apikit.resource_param("user", "users", User)
    org = apikit.resource_param("organization", "organizations", Organization)
    if user is None and org is None:
        raise apikit.missing("user")
    query = ScheduledEvent.select()
    if org is not None:
        if apikit.role_in(caller, org) is None:
            raise ApiError(403, "You do not have permission to access this resource.")
        if not apikit.is_admin(caller, org) and (user is None or user.id != caller.id):
            raise ApiError(403, "You do not have permission to access this resource.")
        if user is not None and apikit.role_in(user, org) is None:
            raise ApiError(403, "This user is not in your organization")
        query = query.where(ScheduledEvent.organization == org)
    elif user.id != caller.id:
        if apikit.shares_org(caller, user):
            raise ApiError(403, "Please also specify organization when requesting events for a user within "
                                "your organization.")
        raise ApiError(403, "You do not have permission")
    if user is not None:
        hosted = EventMembership.select(EventMembership.event).where(EventMembership.user == user)
        query = query.where(ScheduledEvent.id.in_(hosted))
    status = apikit.enum_param("status", ("active", "canceled"))
    if status:
        query = query.where(ScheduledEvent.status == status)
    email = request.args.get("invitee_email")
    if email:
        with_invitee = Invitee.select(Invitee.event).where(Invitee.email == email.strip().lower())
        query = query.where(ScheduledEvent.id.in_(with_invitee))
    min_start, max_start = apikit.time_param("min_start_time"), apikit.time_param("max_start_time")
    if min_start:
        query = query.where(ScheduledEvent.start_time >= min_start)
    if max_start:
        query = query.where(ScheduledEvent.start_time < max_start)
    order = apikit.sort_param(("start_time",), "start_time:asc")
    return jsonify(apikit.paginate(query, ScheduledEvent, order, event_resource))


def _visible_event(uuid):
    event = ScheduledEvent.get_or_none(ScheduledEvent.uuid == uuid)
    if event is None or not apikit.sees_event(event, _caller()):
        raise ApiError(404)
    return event


@bp.get("/scheduled_events/<uuid>")
def get_scheduled_event(uuid):
    return jsonify({"resource": event_resource(_visible_event(uuid))})


@bp.post("/scheduled_events/<uuid>/cancellation")
def cancel_scheduled_event(uuid):
    """Host cancels the whole event (every active invitee gets ``invitee.canceled``)."""
    event = _visible_event(uuid)
    if event.status == "canceled":
        raise ApiError(403, "Event is already canceled")
    if event.start_time <= utcnow():
        raise ApiError(403, "Event in the past")
    body = request.get_json(silent=True) or {}
    reason = body.get("reason") if isinstance(body, dict) else None
    scheduling.cancel_event(event, reason=reason, canceled_by=_caller().name)
    event = ScheduledEvent.get_by_id(event.id)
    data = event_resource(event)["cancellation"]
    response = jsonify({"resource": data})
    response.status_code = 201
    return response


@bp.get("/scheduled_events/<uuid>/invitees")
def list_invitees(uuid):
    event = _visible_event(uuid)
    query = Invitee.select().where(Invitee.event == event)
    status = apikit.enum_param("status", ("active", "canceled"))
    if status:
        query = query.where(Invitee.status == status)
    email = request.args.get("email")
    if email:
        query = query.where(Invitee.email == email.strip().lower())
    order = apikit.sort_param(("created_at",), "created_at:asc")
    return jsonify(apikit.paginate(query, Invitee, order, invitee_resource))


@bp.get("/scheduled_events/<event_uuid>/invitees/<invitee_uuid>")
def get_invitee(event_uuid, invitee_uuid):
    event = _visible_event(event_uuid)
    invitee = Invitee.get_or_none(Invitee.uuid == invitee_uuid, Invitee.event == event)
    if invitee is None:
        raise ApiError(404)
    return jsonify({"resource": invitee_resource(invitee)})
