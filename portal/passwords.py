"""Passwords (SPEC T3): how they are hashed, checked in constant work, and which ones are allowed.

- Hashes are scrypt (a slow KDF) with Werkzeug's parameters.
- ``verify(user, password)`` does the same work whether or not the account
  exists: for an unknown address it checks against a dummy hash of the same
  parameters, so sign-in time does not tell which addresses have accounts.
- ``problem(password)``: the policy every place that sets a password
  applies (the admin CLI today): at least ``MIN_LENGTH`` characters, and not
  guessable by zxcvbn (its list of 30,000 common passwords, keyboard walks,
  repeats, dictionary words with digits; score 3 of 4 required).
"""
import threading

from werkzeug.security import check_password_hash, generate_password_hash
from zxcvbn import zxcvbn

HASH_METHOD = "scrypt:32768:8:1"  # scrypt with Werkzeug's cost (N, r, p), spelled out so DUMMY_HASH matches it
# A hash no password matches in practice, of HASH_METHOD's cost: checked when the address has no account.
DUMMY_HASH = ("scrypt:32768:8:1$Z0G2057PQCF2Z5fT$12797c55f243f5258f2f5bef3cae48fe2dda14b07186029d6a6475d5c36e815"
              "46dfa5bf8085a9c5582a4232d0cf695e7c4283fa24e8fd365181ff214dc160cc2")
MIN_LENGTH = 10
MIN_SCORE = 3  # zxcvbn: "safely unguessable: moderate protection from offline slow-hash scenario"
ZXCVBN_MAX_LENGTH = 128  # zxcvbn's cost grows with length; a long enough password is judged by its start

# Real password checks made by this process: sign-in's throttle must keep them few (operators and tests read it).
checks_made = 0
_checks_lock = threading.Lock()


def hash_password(password):
    return generate_password_hash(password, method=HASH_METHOD)


def verify(user, password):
    """True when ``user`` exists and ``password`` is theirs; the same scrypt work either way."""
    global checks_made
    with _checks_lock:
        checks_made += 1
    if user is None:
        check_password_hash(DUMMY_HASH, password)
        return False
    return check_password_hash(user.password_hash, password)


def problem(password, *, user_inputs=()):
    """Why ``password`` is refused, in words for the person setting it, or ``None`` when it is fine."""
    if len(password) < MIN_LENGTH:
        return f"The password must be at least {MIN_LENGTH} characters long."
    if password.strip() == "":
        return "The password cannot be only spaces."
    result = zxcvbn(password[:ZXCVBN_MAX_LENGTH], user_inputs=[u for u in user_inputs if u])
    if result["score"] < MIN_SCORE:
        hint = result["feedback"].get("warning") or "It is too easy to guess."
        return f"That password is too common or too easy to guess ({hint.rstrip('.')}). Choose a longer, less predictable one."
    return None
