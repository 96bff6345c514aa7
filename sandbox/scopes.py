"""Authorization scopes (API-FACTS §3): the catalog, what each API endpoint and
webhook event needs, and how a client's scopes are narrowed at authorize.

A legacy client (registered without ``scopes``) and its tokens carry
``default``: full access. A scoped client's tokens carry the space-separated
scopes granted; ``:write`` implies the matching ``:read``.
"""

LEGACY = "default"

# The catalog of API-FACTS §3, with the words the consent page shows for each.
CATALOG = {
    "availability:read": "View your availability schedules",
    "availability:write": "Change your availability schedules",
    "event_types:read": "View your event types and their hosts",
    "event_types:write": "Create and change your event types",
    "locations:read": "View your meeting locations",
    "routing_forms:read": "View your routing forms and their submissions",
    "shares:write": "Create customized one-off shares of your event types",
    "scheduled_events:read": "View your scheduled events, invitees and no-shows",
    "scheduled_events:write": "Cancel scheduled events and mark invitees as no-shows",
    "scheduling_links:write": "Create single-use scheduling links",
    "groups:read": "View your groups and their members",
    "organizations:read": "View your organization, its plan and its members",
    "organizations:write": "Invite and remove members of your organization",
    "users:read": "View your profile",
    "webhooks:read": "View your webhook subscriptions",
    "webhooks:write": "Create and remove webhook subscriptions",
    "activity_log:read": "View your organization's activity log",
    "data_compliance:write": "Delete invitee data for data-compliance requests",
    "outgoing_communications:read": "View the emails and texts sent to your invitees",
}

# What the consent page says for a legacy (``default``) grant.
LEGACY_WORDS = (
    "View your profile, organization and plan",
    "View your event types and scheduled events, including invitee details",
    "Create and remove webhook subscriptions for your bookings",
)

# Scope each API endpoint needs (API-FACTS §3). An endpoint missing here is refused to scoped tokens.
ENDPOINT_SCOPES = {
    "api.users_me": "users:read", "api.get_user": "users:read",
    "api.get_organization": "organizations:read", "api.list_memberships": "organizations:read",
    "api.get_membership": "organizations:read",
    "api.list_event_types": "event_types:read", "api.get_event_type": "event_types:read",
    "api.list_event_type_memberships": "event_types:read",
    "api.list_scheduled_events": "scheduled_events:read", "api.get_scheduled_event": "scheduled_events:read",
    "api.list_invitees": "scheduled_events:read", "api.get_invitee": "scheduled_events:read",
    "api.cancel_scheduled_event": "scheduled_events:write",
    "no_shows.get_no_show": "scheduled_events:read",
    "no_shows.create_no_show": "scheduled_events:write", "no_shows.delete_no_show": "scheduled_events:write",
    "webhook_api.list_subscriptions": "webhooks:read", "webhook_api.get_subscription": "webhooks:read",
    "webhook_api.create_subscription": "webhooks:write", "webhook_api.delete_subscription": "webhooks:write",
}

# Scope a webhook subscription needs per event it asks for (API-FACTS §3, "Webhooks").
EVENT_SCOPES = {
    "invitee.created": "scheduled_events:read", "invitee.canceled": "scheduled_events:read",
    "invitee_no_show.created": "scheduled_events:read", "invitee_no_show.deleted": "scheduled_events:read",
    "event_type.created": "event_types:read", "event_type.updated": "event_types:read",
    "event_type.deleted": "event_types:read",
}


class ScopeError(ValueError):
    """A requested scope is unknown or beyond what the client may grant."""


def _writer(scope):
    return scope[:-len(":read")] + ":write" if scope.endswith(":read") else None


def covers(granted, needed):
    """Does the token scope string ``granted`` allow ``needed``?"""
    scopes = set((granted or "").split())
    if LEGACY in scopes:
        return True
    if needed is None:
        return False
    return needed in scopes or _writer(needed) in scopes


def validate_client_scopes(scopes):
    """The ``scopes`` list of an OAuth client registration; None = legacy."""
    if scopes is None:
        return None
    if not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes):
        raise ScopeError("scopes must be a list of scope names")
    unknown = [s for s in scopes if s not in CATALOG]
    if unknown:
        raise ScopeError(f"unknown scopes: {', '.join(unknown)} (known: {', '.join(CATALOG)})")
    return list(dict.fromkeys(scopes))


def grant(client_scopes, requested):
    """The scope string a token gets: the client's scopes, narrowed by ``scope`` asked for at authorize."""
    wanted = list(dict.fromkeys((requested or "").split()))
    if client_scopes is None:
        if not wanted or wanted == [LEGACY]:
            return LEGACY
        if any(s not in CATALOG for s in wanted):
            raise ScopeError("unknown scope")
        return " ".join(wanted)
    allowed = " ".join(client_scopes)
    if not wanted:
        return allowed
    if any(s not in CATALOG or not covers(allowed, s) for s in wanted):
        raise ScopeError("scope beyond the client's registration")
    return " ".join(wanted)


def describe(scope_string):
    """The consent page's lines for a grant."""
    scopes = (scope_string or "").split()
    if LEGACY in scopes:
        return list(LEGACY_WORDS)
    return [CATALOG[s] for s in scopes if s in CATALOG]
