"""Editing the calendar selection and removing calendars (SPEC D1, D2, D4, D5, W3, W4).

- ``edit_options`` / ``plan_edit``: what the Edit modal offers and what a
  submitted selection adds and removes;
- ``questions``: the Keep / Delete question for each removed calendar, with
  the number of appointments it concerns and, for a shared calendar, how many
  other members must also choose Delete (D4);
- ``apply_edit``: new periods for added calendars (W3; a calendar removed
  with Keep gets its coverage back, W4), the answers for removed ones, the
  purges and the audit log; returns the messages to show as
  ``(category, text)`` pairs;
- recording answers and starting the purges is ``portal.pipeline.answers``'s,
  shared with Disconnect (D3, ``portal.pipeline.disconnect``).
"""
import logging
from dataclasses import dataclass, field
from datetime import timedelta

from redis.exceptions import RedisError

from portal.calendly.errors import CalendlyError, user_message
from portal.connections.service import (
    CalendarOption,
    SelectionProblem,
    offered_calendars,
)
from portal.models import CalendarSelection, Task, TaskState
from portal.models.audit import record
from portal.pipeline import purge
from portal.pipeline.answers import (  # noqa: F401 (CHOICES, events_phrase: the views' names too)
    CHOICES,
    choose_verb,
    close_periods,
    events_phrase,
    members_phrase,
    start_purges,
    stay_verb,
)
from portal.pipeline.reconcile import RECONCILE_JOB, enqueue_once
from portal.sync import deletion
from portal.sync.apply import write_transaction
from portal.sync.deletion import KEEP
from portal.timeutil import utcnow

log = logging.getLogger(__name__)

NOTHING_CHOSEN = ("Choose at least one calendar. To stop importing from Calendly altogether, "
                  "use Disconnect instead.")
ANSWER_MISSING = "Choose Keep or Delete permanently for {names}."


@dataclass(frozen=True)
class Question:
    """Delete all events synced from this calendar? (D2)"""

    uri: str
    name: str
    shared: bool
    count: int  # the calendar's appointments in the subaccount
    others: int  # other members who still have it selected or chose Keep (D4)
    members: int  # other members who connected it at all


@dataclass
class EditPlan:
    added: list = field(default_factory=list)  # CalendarOption
    removed: list = field(default_factory=list)  # CalendarSelection (open periods)

    @property
    def changed(self):
        return bool(self.added or self.removed)


# ------------------------------------------------------------------ Edit (D1, D2)
def edit_options(connection):
    """``(options, problem)``: the calendars the Edit modal offers.

    Calendars selected now but no longer offered by Calendly stay listed so
    they can be removed. If Calendly cannot be reached, only the selected
    calendars are offered (they can be removed, none added) and ``problem``
    says why.
    """
    current = list(connection.current_selections())
    problem = None
    try:
        options = list(offered_calendars(connection))
    except CalendlyError as exc:
        options = []
        problem = f"{user_message(exc)} You can remove calendars now; adding one needs Calendly."
    offered = {o.uri for o in options}
    _learn_booking_links(current, options)
    for s in current:
        if s.event_type_uri not in offered:
            options.append(CalendarOption(uri=s.event_type_uri, name=s.name, shared=s.shared,
                                          pooling_type=s.pooling_type, scheduling_url=s.scheduling_url,
                                          gone=problem is None or s.deleted_in_calendly_at is not None))
    return options, problem


def _learn_booking_links(current, options):
    """Selections made before booking links were kept learn theirs from Calendly's answer (Calendars page)."""
    links = {o.uri: o.scheduling_url for o in options if o.scheduling_url}
    for s in current:
        if links.get(s.event_type_uri) and s.scheduling_url != links[s.event_type_uri]:
            CalendarSelection.update(scheduling_url=links[s.event_type_uri]).where(
                CalendarSelection.id == s.id).execute()


def plan_edit(connection, options, chosen_uris):
    """What saving ``chosen_uris`` changes; ``SelectionProblem`` when nothing is chosen."""
    by_uri = {o.uri: o for o in options}
    chosen = [by_uri[u] for u in dict.fromkeys(chosen_uris) if u in by_uri]
    if not chosen:
        raise SelectionProblem(NOTHING_CHOSEN)
    current = {s.event_type_uri: s for s in connection.current_selections()}
    chosen_uris = {o.uri for o in chosen}
    return EditPlan(
        added=[o for o in chosen if o.uri not in current],
        removed=[s for uri, s in current.items() if uri not in chosen_uris],
    )


def questions(connection, selections):
    """One ``Question`` per calendar about to be removed (D2, D4)."""
    out = []
    for s in selections:
        agreement = deletion.consensus(connection.subaccount_id, s.event_type_uri)
        out.append(Question(
            uri=s.event_type_uri, name=s.name, shared=s.shared,
            count=deletion.count_for_calendar(connection.subaccount_id, s.event_type_uri),
            others=len([u for u in agreement.waiting_on if u != connection.user_id]),
            members=len([u for u in agreement.members if u != connection.user_id]),
        ))
    return out


def with_events(connection, selections):
    """``(asked, silent)``: calendars with imported events get the Keep / Delete question; the others are
    removed without one (there is nothing to keep or delete), recorded as Keep."""
    asked, silent = [], []
    for s in selections:
        (asked if deletion.count_for_calendar(connection.subaccount_id, s.event_type_uri) else silent).append(s)
    return asked, silent


def read_answers(form, selections):
    """``(answers, problem)``: Keep/Delete per removed calendar from fields ``answer:<uri>``."""
    answers = {s.event_type_uri: form.get(f"answer:{s.event_type_uri}") for s in selections}
    missing = [s.name for s in selections if answers[s.event_type_uri] not in CHOICES]
    if missing:
        return answers, ANSWER_MISSING.format(names=", ".join(missing))
    return answers, None


def apply_edit(connection, plan, answers, actor):
    """Save an Edit: periods opened and closed at one instant, then purges and messages."""
    now = utcnow()
    messages = []
    with write_transaction():
        for option in plan.added:
            previous = _last_period(connection, option.uri)
            CalendarSelection.create(
                connection=connection, event_type_uri=option.uri, name=option.name, shared=option.shared,
                pooling_type=option.pooling_type, selected_from=now, includes_backfill=False,
                scheduling_url=option.scheduling_url,
            )
            if previous is not None and previous.ended_with == KEEP:
                detail = "W4: selected again after Keep; its earlier coverage is restored"
                text = f"{option.name} selected again: its earlier coverage is restored."
            else:
                detail = "W3/W4: bookings created from now on are imported"
                text = f"Now importing {option.name}: bookings made from now on are imported, earlier ones are not."
            record("calendar.add", actor=actor, subaccount=connection.subaccount_id, target=option.name,
                   detail=detail)
            messages.append(("success", text))
        removed = [(s, answers[s.event_type_uri]) for s in plan.removed]
        close_periods(connection, removed, now, actor)
    messages.extend(_edit_messages(start_purges(connection, removed, actor)))
    if plan.added:
        _catch_up(connection)
    return messages


def _last_period(connection, uri):
    return (CalendarSelection.select()
            .where((CalendarSelection.connection == connection) & (CalendarSelection.event_type_uri == uri))
            .order_by(CalendarSelection.selected_from.desc(), CalendarSelection.id.desc()).first())


def _edit_messages(results):
    """What happens to each removed calendar's events, in the user's words."""
    messages = []
    for selection, choice, count, req in results:
        name = selection.name
        if choice == KEEP and not count:
            messages.append(("success", f"{name} removed. It had no imported events."))
        elif choice == KEEP:
            messages.append(("success", f"{name} removed. Its {events_phrase(count)} {stay_verb(count)} in Calbridge."))
        elif req.waiting:
            # The Connections page says how many events stay, for how many members, until they agree.
            messages.append(("success", f"{name} removed."))
        elif req.task is not None:
            # Not "Deleting…": this notice is not live; the Deletions card is, and says when it is done.
            messages.append(("success", f"{name} removed. Its {events_phrase(count)} {'is' if count == 1 else 'are'} deleted in batches: "
                                        "Deletions below shows the progress."))
        else:
            messages.append(("success", f"{name} removed. It had no events to delete."))
    return messages


def waiting_message(name, count, members, kept=0):
    """D4: what a member who chose Delete sees while others have not agreed.

    A member who answered Keep keeps the events (only their choosing Delete later would change it), so the
    notice says so instead of waiting for them; the rest still have the calendar selected.
    """
    if kept:
        selected = members - kept
        still = (f"; {members_phrase(selected).replace('the ', '', 1)} still {'has' if selected == 1 else 'have'} "
                 "it selected" if selected else "")
        return (f"{name} is a shared calendar: its {events_phrase(count)} stay in Calbridge, because "
                f"{members_phrase(kept)} who connected it chose Keep{still}.")
    return (f"{name} is a shared calendar: its {events_phrase(count)} stay visible until "
            f"{members_phrase(members)} who connected it also {choose_verb(members)} Delete.")


def _catch_up(connection):
    """A reconciliation now, so a restored coverage (W4) does not wait for the next scheduled run."""
    try:
        enqueue_once(RECONCILE_JOB, connection.id)
    except RedisError as exc:
        log.warning("could not queue a reconciliation of connection %s: %s", connection.id, exc)


# ------------------------------------------------------------------ what the Connections page shows
RECENT_TASK_HOURS = 12


def visible_tasks(subaccount_id, user_id, is_admin):
    """Deletions under way, and those finished recently, that this user may follow (D5)."""
    since = utcnow() - timedelta(hours=RECENT_TASK_HOURS)
    query = Task.select().where(
        (Task.subaccount == subaccount_id) & (Task.kind == purge.PURGE_KIND)
        & (Task.state.in_(TaskState.ACTIVE + (TaskState.FAILED,)) | (Task.finished_at >= since))
    )
    if not is_admin:
        query = query.where(Task.requested_by == user_id)
    return list(query.order_by(Task.id.desc()).limit(20))
