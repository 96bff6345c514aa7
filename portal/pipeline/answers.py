"""Recording Keep / Delete answers and starting the purges they allow (SPEC D2-D5).

Shared by Edit (``portal.connections.removal``), Disconnect
(``portal.pipeline.disconnect``) and removing a member (``portal.pipeline.member_removal``).
"""
from portal import live
from portal.models.audit import record
from portal.pipeline import purge
from portal.sync import deletion
from portal.sync.deletion import DELETE, KEEP

CHOICES = (KEEP, DELETE)


def close_periods(connection, removed, at, actor):
    """Close each period with its answer and write ``calendar.keep`` / ``calendar.delete`` (D5)."""
    for selection, choice in removed:
        deletion.close_selection(connection, selection.event_type_uri, choice, at=at)
        count = deletion.count_for_calendar(connection.subaccount_id, selection.event_type_uri)
        if choice == KEEP:
            detail = f"Removed with Keep: its {events_phrase(count)} {stay_verb(count)}"
        else:
            agreement = deletion.consensus(connection.subaccount_id, selection.event_type_uri)
            waiting = agreement.waiting_on
            if agreement.kept_by:
                detail = (f"Removed with Delete; shared: the events stay because {members_phrase(len(agreement.kept_by))} "
                          "chose Keep")
            elif waiting:
                detail = (f"Removed with Delete; shared: the events stay until {members_phrase(len(waiting))} "
                          f"also {choose_verb(len(waiting))} Delete")
            else:
                detail = "Removed with Delete: its events are deleted"
        record(f"calendar.{choice}", actor=actor, subaccount=connection.subaccount_id, target=selection.name,
               count=count, detail=detail)
    if removed:
        live.touch(connection.subaccount_id)  # the other members' open notices follow this answer


def start_purges(connection, removed, actor):
    """Start the purges the answers allow (D4, D5); returns ``[(selection, choice, count, PurgeRequest|None)]``."""
    results = []
    for selection, choice in removed:
        if choice == KEEP:
            count = deletion.count_for_calendar(connection.subaccount_id, selection.event_type_uri)
            results.append((selection, choice, count, None))
            continue
        req = purge.request_purge(connection.subaccount_id, selection.event_type_uri, selection.name,
                                     connection=connection, actor=actor)
        results.append((selection, choice, req.count, req))
    return results


def events_phrase(n):
    return "1 event" if n == 1 else f"{n:,} events"


def choose_verb(n):
    return "chooses" if n == 1 else "choose"


def stay_verb(n):
    return "stays" if n == 1 else "stay"


def members_phrase(n):
    return "the 1 other member" if n == 1 else f"the {n} other members"
