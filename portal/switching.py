"""Changing subaccount without losing one's place (issue 16, item 8).

- After a switch the person stays on the page they were on when that page
  exists in the other subaccount (a list, the week of a date, a settings
  tab); a record page of the old subaccount goes to its section's list;
  a page the new role may not open goes to the dashboard.
- A link to a record of another of the person's own subaccounts answers
  an offer, "Switch to <name> to open this", instead of a 404. A record of
  a subaccount they do not belong to stays a 404, exactly like a missing one
  (T2): not even its subaccount's name is shown.
"""
from urllib.parse import parse_qsl, urlencode, urlsplit

from flask import abort, current_app, make_response, render_template, request, url_for
from flask_login import current_user
from werkzeug.exceptions import HTTPException
from werkzeug.routing import RequestRedirect

from portal import params
from portal.error_responses import wants_json
from portal.extensions import htmx
from portal.models import Membership, Subaccount
from portal.tenancy import current_subaccount

# Blueprints whose pages are not a subaccount's: a switch leaves them as they are.
NOT_SCOPED = {"support", "agency", "profile", "auth", "static"}
# Query parameters that name a record or a position in the old subaccount's lists.
RECORD_PARAMETERS = {"select", "before", "after", "contact", "tag"}
# Where a record page of each section goes.
SECTION_LISTS = {"appointments": "appointments.index", "connections": "connections.index",
                 "contacts": "contacts.index", "emails": "emails.index", "workflows": "workflows.index",
                 "tasks": "tasks.mine", "team": "team.index"}


def landing_after_switch(current, role):
    """Where to go after switching, from ``current`` (the path and query the person was on)."""
    path = params.local_path(current)
    if path is None:
        return url_for("main.dashboard")
    parts = urlsplit(path)
    try:
        endpoint, arguments = current_app.url_map.bind("").match(parts.path, method="GET")
    except RequestRedirect as moved:  # /calendars → /calendars/: the same page
        return landing_after_switch(urlsplit(moved.new_url).path + (f"?{parts.query}" if parts.query else ""), role)
    except HTTPException:
        return url_for("main.dashboard")
    section = endpoint.split(".", 1)[0]
    if section in NOT_SCOPED:
        return path
    if getattr(current_app.view_functions[endpoint], "admin_only", False) and role != "admin":
        return url_for("main.dashboard")
    if arguments:  # a record of the subaccount left behind
        return url_for(SECTION_LISTS.get(section, "main.dashboard"))
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
                       if k not in RECORD_PARAMETERS])
    return parts.path + (f"?{query}" if query else "")


def get_scoped_or_offer(model, object_id):
    """``model`` ``object_id`` of the current subaccount; of another of the user's own, the offer to switch; else 404."""
    obj = model.get_or_none((model.id == object_id) & (model.subaccount == current_subaccount()))
    if obj is not None:
        return obj
    if request.method == "GET" and not htmx and not wants_json():  # a page opened from a link
        home = (Subaccount.select()
                .join(model, on=(model.subaccount == Subaccount.id))
                .switch(Subaccount)
                .join(Membership, on=(Membership.subaccount == Subaccount.id))
                .where((model.id == object_id) & (Membership.user == current_user.id))
                .first())
        if home is not None:
            page = render_template("main/switch_offer.html", home=home, what=model._meta.name.replace("_", " "),
                                   target=request.full_path.rstrip("?"))
            abort(make_response(page, 200))
    abort(404)
