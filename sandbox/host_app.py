"""The page a host opens in Calendly's web app: Scheduled events (``/app/scheduled_events/user/me``).

Calendly's API has no host-facing address for a scheduled event (its ``uri``
answers JSON to a token; ``cancel_url``/``reschedule_url`` are the guest's
pages). A host reads their meetings in the web app, signed in, where
``?uuid=`` opens one event. The sandbox serves the same address so a portal
pointed at it cannot tell it from Calendly.
"""
from flask import Blueprint, redirect, render_template, request, url_for

from .oauth import signed_in_user
from .store import EventMembership, Invitee, ScheduledEvent, utcnow

bp = Blueprint("host_app", __name__)


@bp.get("/app/scheduled_events/user/me")
def scheduled_events():
    user = signed_in_user()
    if user is None:
        return redirect(url_for("oauth.login", next=request.full_path.rstrip("?")))
    mine = (ScheduledEvent.select().join(EventMembership)
            .where(EventMembership.user == user).order_by(ScheduledEvent.start_time))
    uuid = request.args.get("uuid")
    if uuid:
        event = mine.where(ScheduledEvent.uuid == uuid).first()
        if event is None:
            return render_template("host_event.html", user=user, event=None), 404
        invitees = list(Invitee.select().where(Invitee.event == event).order_by(Invitee.id))
        hosts = [m.user for m in event.memberships.order_by(EventMembership.id)]
        return render_template("host_event.html", user=user, event=event, invitees=invitees, hosts=hosts,
                               guests=list(event.guests))
    upcoming = list(mine.where(ScheduledEvent.end_time >= utcnow()).limit(100))
    return render_template("host_events.html", user=user, events=upcoming)
