"""Users, organizations and OAuth clients: how they come to exist in the sandbox."""
import json
import re
import secrets

from werkzeug.security import check_password_hash, generate_password_hash

from .scopes import ScopeError, validate_client_scopes
from .store import PLANS, ROLES, STAGES, Membership, OAuthClient, Organization, User, db, utcnow

# Sandbox passwords only guard fake data; a light hash keeps start-up fast.
PASSWORD_METHOD = "pbkdf2:sha256:20000"


class AccountError(ValueError):
    def __init__(self, message, status=400):
        super().__init__(message)
        self.status = status


def slugify(text):
    slug = re.sub(r"[^a-z0-9]+", "-", (text or "").lower()).strip("-")
    return slug or "item"


def unique_slug(model, text):
    base = slugify(text)
    slug, n = base, 1
    while model.select().where(model.slug == slug).exists():
        n += 1
        slug = f"{base}-{n}"
    return slug


def check_plan(plan, stage):
    if plan not in PLANS:
        raise AccountError(f"plan must be one of {', '.join(PLANS)}")
    if stage not in STAGES:
        raise AccountError(f"stage must be one of {', '.join(STAGES)}")


def create_user(name, email, password, plan="professional", stage="paid", timezone="UTC",
                organization=None, role=None, org_name=None, locale="en"):
    """A user with their own organization (as owner), or joining ``organization``."""
    email = (email or "").strip().lower()
    if not email or "@" not in email:
        raise AccountError("email is required")
    if not password:
        raise AccountError("password is required")
    name = (name or email.split("@")[0]).strip()
    with db.atomic():
        if User.select().where(User.email == email).exists():
            raise AccountError("a user with this email already exists", status=409)
        now = utcnow()
        if organization is None:
            check_plan(plan, stage)
            organization = Organization.create(
                name=org_name or name, plan=plan, stage=stage, created_at=now, updated_at=now)
            role = role or "owner"
        else:
            role = role or "user"
        if role not in ROLES:
            raise AccountError(f"role must be one of {', '.join(ROLES)}")
        user = User.create(
            name=name, email=email, slug=unique_slug(User, name),
            password_hash=generate_password_hash(password, method=PASSWORD_METHOD),
            timezone=timezone or "UTC", locale=locale, organization=organization, created_at=now, updated_at=now)
        Membership.create(user=user, organization=organization, role=role, created_at=now, updated_at=now)
    return user, organization


def authenticate(email, password):
    user = User.get_or_none(User.email == (email or "").strip().lower())
    if user and check_password_hash(user.password_hash, password or ""):
        return user
    return None


def update_plan(user, plan=None, stage=None):
    org = user.organization
    plan = plan if plan is not None else org.plan
    stage = stage if stage is not None else org.stage
    check_plan(plan, stage)
    org.plan, org.stage, org.updated_at = plan, stage, utcnow()
    org.save()
    return org


def register_client(name, redirect_uris, client_id=None, client_secret=None, webhook_signing_key=None,
                    from_config=False, scopes=None):
    """Create or update an OAuth client (idempotent on ``client_id``); ``scopes`` None = a legacy app."""
    if not isinstance(redirect_uris, (list, tuple)) or not all(isinstance(u, str) and u for u in redirect_uris):
        raise AccountError("redirect_uris must be a list of URLs")
    try:
        scopes = validate_client_scopes(scopes)
    except ScopeError as exc:
        raise AccountError(str(exc)) from None
    values = {
        "scopes": scopes,
        "name": name or "OAuth App",
        "client_secret": client_secret or secrets.token_urlsafe(32),
        "redirect_uris": list(redirect_uris),
        "webhook_signing_key": webhook_signing_key or secrets.token_urlsafe(32),
        "from_config": from_config,
    }
    with db.atomic():
        client = OAuthClient.get_or_none(OAuthClient.client_id == client_id) if client_id else None
        if client is None:
            client = OAuthClient.create(client_id=client_id or secrets.token_urlsafe(24), **values)
        else:
            for key, value in values.items():
                setattr(client, key, value)
            client.save()
    return client


def parse_clients(value):
    """``SANDBOX_OAUTH_CLIENTS`` as a list (JSON text or Python list)."""
    if not value:
        return []
    if isinstance(value, str):
        value = json.loads(value)
    if isinstance(value, dict):
        value = [value]
    return list(value)


def register_config_clients(clients):
    for spec in parse_clients(clients):
        register_client(
            spec.get("name"), spec.get("redirect_uris") or [], client_id=spec.get("client_id"),
            client_secret=spec.get("client_secret"), webhook_signing_key=spec.get("webhook_signing_key"),
            from_config=True, scopes=spec.get("scopes"))
