"""Words for people (issue 16): what customers read instead of codes, rule ids and HTTP statuses.

The technical text (``last_error``, an owner reason's rule id, an SMTP answer)
stays in the database as it was written, and the support console shows it
as it is; customer pages and emails read it through these filters.
"""
import re

from portal.models import Status

# A SPEC rule id as the code writes it: "O2: …", "W3/W4: …", "; E4: …", "(O3)", "C5 webhook plan gate".
_RULE_PREFIX = re.compile(r"\b[CWEODSRT][0-9]+(?:/[CWEODSRT][0-9]+)*:\s*")
_RULE_IN_BRACKETS = re.compile(r"\s*\((?:SPEC\s+)?[CWEODSRT][0-9]+(?:[,/ ]+[CWEODSRT][0-9]+)*\)")
_RULE_BARE = re.compile(r"\b[CWEODSRT][0-9]+\s+(?=[a-z])")
# A reference into Calendly's API facts: "(API-FACTS §8)".
_FACTS = re.compile(r"\s*\(API-FACTS[^)]*\)")

# HTTP statuses as servers write them, and what they mean to a person.
_STATUS_WORDS = {
    400: "the request was refused", 401: "the sign-in was refused", 403: "permission was refused",
    404: "it was not found", 405: "the request was refused", 408: "it took too long to answer",
    409: "it conflicted with a change made meanwhile", 410: "it no longer exists",
    413: "it was too large", 422: "the request was refused", 429: "too many requests were made at once",
    500: "the other side had a problem", 502: "the other side was unavailable",
    503: "the other side was unavailable", 504: "the other side took too long to answer",
}
# Only the phrases that read as codes ("Conflict", "Gone" are ordinary words too).
_PHRASES = ("Bad Request", "Unauthorized", "Forbidden", "Not Found", "Method Not Allowed", "Request Timeout",
            "Payload Too Large", "Unprocessable Entity", "Unprocessable Content", "Too Many Requests", "Internal Server Error", "Bad Gateway", "Service Unavailable", "Gateway Timeout",
            "Permission Denied")
_CODE_AND_PHRASE = re.compile(r"\b(?:HTTP\s*)?([45][0-9]{2})\b(?::?\s*(?:%s))?" % "|".join(_PHRASES))
_PHRASE_WORDS = {"Not Found": "not found", "Unauthorized": "not signed in", "Forbidden": "not allowed",
                 "Permission Denied": "not allowed", "Too Many Requests": "too many requests at once",
                 "Internal Server Error": "a failure on the other side", "Service Unavailable": "unavailable",
                 "Bad Gateway": "unavailable", "Gateway Timeout": "too slow to answer",
                 "Request Timeout": "too slow to answer", "Payload Too Large": "too large"}
_PHRASE_ALONE = re.compile(r"\b(?:%s)\b" % "|".join(_PHRASES))
_OAUTH_CODES = re.compile(r"\b(?:invalid_grant|invalid_client|invalid_request|unauthorized_client|"
                          r"unsupported_grant_type|invalid_scope|access_denied|invalid_token)\b:?\s*")

RECONNECT = "Calendly no longer accepts this connection's sign-in. Reconnect to resume syncing."
RATE_LIMITED = ("Calendly asked Calbridge to slow down for a moment. Syncing resumes by itself within a few "
                "minutes; there is nothing to do.")
IMPORT_FAILED = ("The import from Calendly stopped on a problem. Calbridge tries again by itself; if it has not "
                 "finished within the hour, reconnect Calendly or contact support.")
SYNC_FAILED = ("Calbridge could not reach Calendly for a while, so new bookings may arrive late. It keeps trying "
               "by itself; if this lasts more than an hour, reconnect Calendly or contact support.")


def plain(text, capitalize=True):
    """``text`` without rule ids, OAuth error codes or HTTP status codes: the safety net for stored sentences."""
    if not text:
        return ""
    text = str(text)
    text = _FACTS.sub("", text)
    text = _RULE_IN_BRACKETS.sub("", text)
    text = _RULE_PREFIX.sub("", text)
    text = _RULE_BARE.sub("", text)
    text = _OAUTH_CODES.sub("", text)
    text = _CODE_AND_PHRASE.sub(lambda m: _STATUS_WORDS.get(int(m.group(1)), "the other side refused"), text)
    text = _PHRASE_ALONE.sub(lambda m: _PHRASE_WORDS.get(m.group(0), "not accepted"), text)
    text = re.sub(r"\(\s*:?\s*\)", "", text)  # "(invalid_grant: )" left empty
    text = re.sub(r"\s+([,.;:])", r"\1", re.sub(r"\s{2,}", " ", text)).strip(" ;:")
    return text[:1].upper() + text[1:] if capitalize else text


def connection_problem(connection):
    """What went wrong with a connection and what to do, for its owner and the subaccount's admins (S1)."""
    status, error = connection.status, connection.last_error or ""
    lowered = error.lower()
    if status == Status.RECONNECT_NEEDED:
        if error.startswith("Calendly did not give Calbridge permission"):
            return error  # names what the missing permission is for (missing_scope_message)
        return RECONNECT
    if status == Status.PLAN_NOT_SUPPORTED:
        return plain(error) if error else ("Your Calendly plan does not allow Calbridge to read bookings. "
                                           "Upgrade in Calendly, then connect again.")
    if not error:
        return ""
    if "429" in error or "rate limit" in lowered or "too many requests" in lowered or "pacing" in lowered:
        return RATE_LIMITED
    if lowered.startswith("importing from calendly failed"):
        return IMPORT_FAILED
    return SYNC_FAILED


_NOBODY_SELECTS = re.compile(r"^O2: round robin, no member has it selected now; owner is (.+)$")
_PERSONAL = re.compile(r"^O1: personal calendar(?: of (.+))?$")


def owner_reason(reason, owner=None, calendar=None):
    """Why an appointment has its owner (O1, O2), in words, as the tail after "Owner: <name> —".

    ``owner`` and ``calendar`` are the names the page knows; without them the
    reason's own names are used. Other reasons (member removal's "reassigned:
    owner removed by … (round robin, …)", "Created in the portal by …") read
    as written, rule ids removed ("Created …" lowered to follow the dash).
    """
    reason = reason or ""
    calendar = calendar or "this calendar"
    if reason.startswith("O1:"):
        m = _PERSONAL.match(reason)
        return f"the booking came through {owner or (m and m.group(1)) or 'the owner'}’s Calendly connection"
    if reason.startswith("O2: round robin, chosen among"):
        return f"chosen at random among the members who import {calendar}"
    if reason.startswith("O2:"):
        m = _NOBODY_SELECTS.match(reason)
        return (f"no member imports {calendar} now, so it went to {owner or (m and m.group(1)) or 'the owner'}, "
                "whose Calendly connection brought it")
    text = plain(reason, capitalize=False)
    return text[:1].lower() + text[1:] if text.startswith("Created in the portal") else text


def web_answer(status_code, error=None):
    """A webhook address's answer in words: ``accepted it`` / ``said the address does not exist`` …"""
    if status_code is None:
        return "could not be reached" + (f" ({plain(error)})" if error else "")
    if 200 <= status_code < 300:
        return "accepted it"
    if status_code in (401, 403):
        return "refused it (the address asks for a sign-in or a permission)"
    if status_code in (404, 410):
        return "said the address does not exist"
    if status_code == 429:
        return "asked to slow down"
    if status_code >= 500:
        return "had a problem on its side"
    return "refused it"


def mail_problem(email):
    """Why an email was not sent (or not yet), for the admins who read Sent emails."""
    error = email.error or ""
    if not error:
        return ""
    lowered = error.lower()
    if email.state != "failed":
        return "The mail server could not be reached yet. Calbridge keeps trying by itself."
    if "refused the recipient" in lowered or "refused some recipients" in lowered:
        return "The recipient's mail server refused this message. Check the address, then send it again."
    if "interrupted while sending" in lowered:
        return ("Sending was interrupted, so it was not sent again in case it arrived after all. "
                "Send it again if the recipient did not get it.")
    if "too large" in lowered or "bigger" in lowered:
        return "The message was too large to send."
    return "The mail server refused this message, so it was not sent. Contact support if this keeps happening."


def init_app(app):
    for name, fn in (("plain_words", plain), ("connection_problem", connection_problem), ("owner_reason", owner_reason),
                     ("web_answer", web_answer), ("mail_problem", mail_problem)):
        app.add_template_filter(fn, name)
