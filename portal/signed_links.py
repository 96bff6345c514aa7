"""Signed, expiring, single-use links (password reset, invitations) on itsdangerous.

A token carries its purpose (the salt), a random nonce and the caller's
data, signed with the app's secret and timestamped. ``consume`` records the
nonce in ``UsedLink`` with one INSERT on a unique column, so of two uses at
the same moment exactly one succeeds.
"""
import secrets

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeSerializer, URLSafeTimedSerializer
from peewee import IntegrityError

from portal.extensions import db
from portal.models import UsedLink


class LinkProblem(Exception):
    """Why a link cannot be used, in words for the page."""


class LinkExpired(LinkProblem):
    pass


class LinkUsed(LinkProblem):
    pass


class LinkInvalid(LinkProblem):
    pass


def _timed(purpose):
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=f"calbridge.{purpose}")


def issue(purpose, data):
    """A token for ``data`` (a dict of JSON values) usable once for ``purpose``."""
    return _timed(purpose).dumps({**data, "nonce": secrets.token_urlsafe(16)})


def peek(purpose, token, max_age):
    """The data of a valid, unused, unexpired token (without using it), or a ``LinkProblem``."""
    try:
        data = _timed(purpose).loads(token, max_age=max_age)
    except SignatureExpired as exc:
        raise LinkExpired("This link has expired.") from exc
    except BadSignature as exc:
        raise LinkInvalid("This link is not valid.") from exc
    if not isinstance(data, dict) or "nonce" not in data:
        raise LinkInvalid("This link is not valid.")
    if UsedLink.select().where(UsedLink.nonce == data["nonce"]).exists():
        raise LinkUsed("This link has already been used.")
    return data


def consume(purpose, token, max_age):
    """Like ``peek``, and mark the token used (call it inside the transaction that acts on it)."""
    data = peek(purpose, token, max_age)
    try:
        with db.atomic():
            UsedLink.create(purpose=purpose, nonce=data["nonce"])
    except IntegrityError as exc:
        raise LinkUsed("This link has already been used.") from exc
    return data


def sign_forever(purpose, data):
    """A signed token without expiry or use count (unsubscribe links must keep working)."""
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=f"calbridge.{purpose}").dumps(data)


def verify_forever(purpose, token):
    try:
        return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=f"calbridge.{purpose}").loads(token)
    except BadSignature as exc:
        raise LinkInvalid("This link is not valid.") from exc
