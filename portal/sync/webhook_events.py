"""The Calendly webhook events the portal subscribes to and applies (API-FACTS §7): names only, no I/O."""

INVITEE_CREATED = "invitee.created"
INVITEE_CANCELED = "invitee.canceled"
INVITEE_EVENTS = (INVITEE_CREATED, INVITEE_CANCELED)

NO_SHOW_CREATED = "invitee_no_show.created"
NO_SHOW_DELETED = "invitee_no_show.deleted"
NO_SHOW_EVENTS = (NO_SHOW_CREATED, NO_SHOW_DELETED)

EVENT_TYPE_EVENTS = ("event_type.created", "event_type.updated", "event_type.deleted")
