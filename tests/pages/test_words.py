"""The sentences customers read instead of codes (portal/words.py, portal/activity_words.py)."""
from types import SimpleNamespace

from portal import activity_words, words
from portal.models import Status


def connection(status, last_error):
    return SimpleNamespace(status=status, last_error=last_error)


def test_a_revoked_sign_in_reads_as_what_to_do():
    text = words.connection_problem(connection(
        Status.RECONNECT_NEEDED, "Calendly refused to renew access (invalid_grant: revoked). Connect again."))
    assert text == "Calendly no longer accepts this connection's sign-in. Reconnect to resume syncing."


def test_a_missing_permission_keeps_naming_what_it_is_for():
    said = ('Calendly did not give Calbridge permission to read your scheduled events and their invitees (the '
            '"scheduled_events:read" permission). Reconnect Calendly and allow access to resume syncing.')
    assert words.connection_problem(connection(Status.RECONNECT_NEEDED, said)) == said


def test_rate_limits_and_outages_are_told_without_http_statuses():
    limited = words.connection_problem(connection(Status.ERROR, "Importing from Calendly failed: 429 Too Many "
                                                                "Requests: pacing"))
    assert limited.startswith("Calendly asked Calbridge to slow down") and "429" not in limited
    down = words.connection_problem(connection(Status.ERROR, "Reconciliation with Calendly failed: 503 Service "
                                                             "Unavailable"))
    assert down.startswith("Calbridge could not reach Calendly") and "503" not in down
    failed_import = words.connection_problem(connection(Status.ERROR, "Importing from Calendly failed: 500 boom"))
    assert failed_import.startswith("The import from Calendly stopped")


def test_owner_reasons_in_words_without_rule_ids():
    # The page's names when it knows them, else the reason's own; the same words as the appointment page's.
    assert words.owner_reason("O1: personal calendar of Ann") == "the booking came through Ann’s Calendly connection"
    assert words.owner_reason("O1: personal calendar of Ann", owner="Ann Archer") == (
        "the booking came through Ann Archer’s Calendly connection")
    assert words.owner_reason("O2: round robin, chosen among 3 members", calendar="Team Intro") == (
        "chosen at random among the members who import Team Intro")
    assert words.owner_reason("O2: round robin, no member has it selected now; owner is Bo") == (
        "no member imports this calendar now, so it went to Bo, whose Calendly connection brought it")
    assert words.owner_reason("Created in the portal by Ann") == "created in the portal by Ann"
    assert words.owner_reason("reassigned: owner removed by Ada (O2: round robin, drawn among 2)") == (
        "reassigned: owner removed by Ada (round robin, drawn among 2)")


def test_plain_removes_rule_ids_and_status_codes_but_keeps_ordinary_words():
    assert words.plain("W3/W4: bookings created from now on are imported") == (
        "Bookings created from now on are imported")
    assert words.plain("Deleting stopped on an error: 500 Internal Server Error") == (
        "Deleting stopped on an error: the other side had a problem")
    assert words.plain("A Conflict with the Gone Fishing calendar") == "A Conflict with the Gone Fishing calendar"


def test_webhook_answers_in_words():
    assert words.web_answer(200) == "accepted it"
    assert words.web_answer(404) == "said the address does not exist"
    assert words.web_answer(503) == "had a problem on its side"
    assert words.web_answer(None, "ConnectTimeout") == "could not be reached (ConnectTimeout)"


def entry(action, count=0, target="Intro Call", detail="", actor="Alice"):
    who = SimpleNamespace(display_name=actor) if actor else None
    return SimpleNamespace(action=action, count=count, target=target, detail=detail, actor=who,
                           actor_id=1 if actor else None)


def test_activity_entries_read_as_sentences():
    assert activity_words.sentence(entry("calendar.purged", 1202)) == "Alice deleted 1,202 appointments of Intro Call."
    assert activity_words.sentence(entry("calendar.keep", 1)) == (
        "Alice removed the calendar Intro Call and kept its 1 appointment.")
    assert activity_words.sentence(entry("calendar.renamed_in_calendly", actor=None)) == (
        "The calendar Intro Call was renamed in Calendly.")
    assert activity_words.sentence(entry("something.new"), "Something new") == "Alice: Something new (Intro Call)."
    assert activity_words.detail(entry("calendar.add", detail="W4: selected again after Keep")) == (
        "Selected again after Keep.")
    assert activity_words.detail(entry("calendly.refused", detail="C5 webhook plan gate")) == ""
