"""The OAuth 2.0 server (auth.calendly.com): authorize with sign-in and consent
pages, token (authorization_code + PKCE, rotating single-use refresh tokens),
revoke and introspect (API-FACTS §3). Error bodies follow RFC 6749 with the
wording of Calendly's server (Doorkeeper)."""
import calendar
import hashlib
import hmac
import secrets
from datetime import timedelta
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from flask import Blueprint, abort, current_app, jsonify, redirect, render_template, request, session, url_for

from . import accounts, tokens
from .scopes import ScopeError, describe, grant
from .serializers import base_url, org_uri, user_uri
from .store import AuthorizationCode, OAuthClient, Token, User, db, token_hash, utcnow
from .tokens import issue_token

bp = Blueprint("oauth", __name__)

ERRORS = {
    "invalid_request": "The request is missing a required parameter, includes an unsupported parameter value, "
                       "or is otherwise malformed.",
    "invalid_client": "Client authentication failed due to unknown client, no client authentication included, "
                      "or unsupported authentication method.",
    "invalid_grant": "The provided authorization grant is invalid, expired, revoked, does not match the "
                     "redirection URI used in the authorization request, or was issued to another client.",
    "unsupported_grant_type": "The authorization grant type is not supported by the authorization server.",
    "unauthorized_client": "You are not authorized to revoke this token",
    "rate_limited": "Too many token requests for this user. Please wait before retrying.",
    "invalid_scope": "The requested scope is invalid, unknown, or malformed.",
}


class OAuthError(Exception):
    def __init__(self, error, status=400, description=None):
        super().__init__(error)
        self.error, self.status = error, status
        self.description = description or ERRORS[error]


@bp.errorhandler(OAuthError)
def _oauth_error(err):
    response = jsonify({"error": err.error, "error_description": err.description})
    response.status_code = err.status
    response.headers["Cache-Control"] = "no-store"
    tokens.rate_headers(response)
    if err.status == 401:
        response.headers["WWW-Authenticate"] = 'Basic realm="Calendly Sandbox"'
    return response


# ------------------------------------------------------------------ session helpers
def signed_in_user():
    uid = session.get("user")
    return User.get_or_none(User.uuid == uid) if uid else None


def csrf_token():
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(24)
    return session["csrf"]


def check_csrf():
    sent = request.form.get("csrf_token", "")
    if not sent or not hmac.compare_digest(sent, session.get("csrf", "")):
        abort(400, "The form expired. Go back and try again.")


@bp.app_context_processor
def _inject():
    return {"csrf_token": csrf_token, "signed_in_user": signed_in_user}


def _safe_next(target):
    parts = urlsplit(target or "")
    return target if target and not parts.scheme and not parts.netloc and target.startswith("/") else url_for(
        "booking.home")


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Calendly-like sign-in; ``next`` brings the user back (e.g. to /oauth/authorize)."""
    nxt = _safe_next(request.values.get("next"))
    error = None
    if request.method == "POST":
        check_csrf()
        user = accounts.authenticate(request.form.get("email"), request.form.get("password"))
        if user is not None:
            session.clear()
            session["user"] = user.uuid
            return redirect(nxt)
        error = "The email or password you entered is incorrect."
    return render_template("signin.html", next=nxt, error=error, email=request.form.get("email", "")), (
        401 if error else 200)


@bp.post("/logout")
def logout():
    check_csrf()
    session.clear()
    return redirect(_safe_next(request.form.get("next")))


# ------------------------------------------------------------------ authorize
def _with_params(uri, **params):
    parts = urlsplit(uri)
    query = parse_qsl(parts.query, keep_blank_values=True)
    query += [(k, v) for k, v in params.items() if v is not None]
    return urlunsplit(parts._replace(query=urlencode(query)))


def _authorize_request(values):
    """Validate the client and redirect URI; anything wrong here is shown, never redirected."""
    client = OAuthClient.get_or_none(OAuthClient.client_id == (values.get("client_id") or ""))
    if client is None:
        return None, None, "The client_id is unknown: this application is not registered with Calendly."
    redirect_uri = values.get("redirect_uri")
    if not redirect_uri and len(client.redirect_uris) == 1:
        redirect_uri = client.redirect_uris[0]
    if redirect_uri not in client.redirect_uris:
        return client, None, "The redirect_uri is not registered for this application."
    return client, redirect_uri, None


def _params_error(values):
    if values.get("response_type") != "code":
        return "unsupported_response_type"
    method = values.get("code_challenge_method")
    if values.get("code_challenge"):
        if method not in (None, "", "S256", "plain"):
            return "invalid_request"
    elif method:
        return "invalid_request"
    return None


@bp.get("/oauth/authorize")
def authorize():
    values = request.args
    client, redirect_uri, problem = _authorize_request(values)
    if problem:
        return render_template("error.html", title="Invalid authorization request", message=problem), 400
    error = _params_error(values)
    if error:
        return redirect(_with_params(redirect_uri, error=error, state=values.get("state")))
    try:
        granted = grant(client.scopes, values.get("scope"))
    except ScopeError:
        return _scope_refused(redirect_uri, values.get("state"))
    user = signed_in_user()
    if user is None:
        return render_template("signin.html", next=request.full_path, error=None, email="", client=client)
    return render_template("consent.html", client=client, user=user, scopes=granted.split(),
                           scope_lines=describe(granted), params=values, redirect_uri=redirect_uri)


def _scope_refused(redirect_uri, state):
    """RFC 6749 §4.1.2.1 ``invalid_scope`` back to the app (Calendly's exact answer is unconfirmed, API-FACTS §3)."""
    return redirect(_with_params(redirect_uri, error="invalid_scope", error_description=ERRORS["invalid_scope"],
                                 state=state))


@bp.post("/oauth/authorize")
def decide():
    check_csrf()
    values = request.form
    client, redirect_uri, problem = _authorize_request(values)
    if problem:
        return render_template("error.html", title="Invalid authorization request", message=problem), 400
    user = signed_in_user()
    if user is None:
        return redirect(url_for("oauth.authorize", **{k: v for k, v in values.items() if k != "csrf_token"}))
    state = values.get("state") or None
    error = _params_error(values)
    if error:
        return redirect(_with_params(redirect_uri, error=error, state=state))
    try:
        granted = grant(client.scopes, values.get("scope"))
    except ScopeError:
        return _scope_refused(redirect_uri, state)
    if values.get("decision") != "allow":
        return redirect(_with_params(redirect_uri, error="access_denied", state=state))
    code = secrets.token_urlsafe(32)
    challenge = values.get("code_challenge") or None
    AuthorizationCode.create(
        code_hash=token_hash(code), client=client, user=user, redirect_uri=values.get("redirect_uri") or "",
        scope=granted, code_challenge=challenge,
        code_challenge_method=(values.get("code_challenge_method") or "plain") if challenge else None,
        expires_at=utcnow() + timedelta(seconds=current_app.config["SANDBOX_CODE_TTL"]))
    return redirect(_with_params(redirect_uri, code=code, state=state))


# ------------------------------------------------------------------ token endpoints
def _body():
    if request.is_json:
        data = request.get_json(silent=True)
        if not isinstance(data, dict):
            raise OAuthError("invalid_request")
        return {k: v for k, v in data.items() if isinstance(v, str)}
    return request.form.to_dict()


def _client_credentials(body):
    auth = request.authorization
    if auth is not None and auth.type == "basic":
        return auth.username or "", auth.password or "", True
    return body.get("client_id") or "", body.get("client_secret"), False


def _authenticate_client(body, allow_public=False):
    client_id, secret, _ = _client_credentials(body)
    client = OAuthClient.get_or_none(OAuthClient.client_id == client_id) if client_id else None
    if client is None:
        raise OAuthError("invalid_client", 401)
    if secret is None and allow_public:
        return client, False
    if secret is None or not hmac.compare_digest(secret, client.client_secret):
        raise OAuthError("invalid_client", 401)
    return client, True


def _count_token_request(user):
    if not tokens.count_token_request(user).allowed:
        raise OAuthError("rate_limited", 429)


@bp.post("/oauth/token")
def token():
    body = _body()
    grant = body.get("grant_type")
    if not grant:
        raise OAuthError("invalid_request")
    if grant not in ("authorization_code", "refresh_token"):
        _authenticate_client(body)
        raise OAuthError("unsupported_grant_type")
    # No enclosing transaction: spending a code or refresh token must stick even when a later check fails.
    result = _exchange_code(body) if grant == "authorization_code" else _refresh(body)
    response = jsonify(result)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    tokens.rate_headers(response)
    return response


def _exchange_code(body):
    code_value, verifier = body.get("code"), body.get("code_verifier")
    if not code_value:
        raise OAuthError("invalid_request")
    client, confidential = _authenticate_client(body, allow_public=bool(verifier))
    code = AuthorizationCode.get_or_none(AuthorizationCode.code_hash == token_hash(code_value))
    if code is None or code.client_id != client.id or code.expires_at <= utcnow():
        raise OAuthError("invalid_grant")
    _count_token_request(code.user)
    # Claim the code atomically: single use even under concurrent exchanges, spent even if a check below fails.
    claimed = (AuthorizationCode.update(used_at=utcnow())
               .where(AuthorizationCode.id == code.id, AuthorizationCode.used_at.is_null()).execute())
    if not claimed:
        raise OAuthError("invalid_grant")
    if (body.get("redirect_uri") or "") != code.redirect_uri:
        raise OAuthError("invalid_grant")
    if code.code_challenge:
        if not verifier:
            raise OAuthError("invalid_grant")
        if code.code_challenge_method == "S256":
            computed = tokens.b64(hashlib.sha256(verifier.encode()).digest())
        else:
            computed = verifier
        if not hmac.compare_digest(computed, code.code_challenge):
            raise OAuthError("invalid_grant")
    elif not confidential:
        raise OAuthError("invalid_client", 401)
    return issue_token(client, code.user, code.scope)


def _refresh(body):
    value = body.get("refresh_token")
    if not value:
        raise OAuthError("invalid_request")
    client, _ = _authenticate_client(body)
    old = Token.get_or_none(Token.refresh_hash == token_hash(value))
    if old is None or old.client_id != client.id or old.refresh_revoked:
        raise OAuthError("invalid_grant")
    _count_token_request(old.user)
    # Rotation: the old refresh token dies now, atomically, whatever happens next.
    claimed = (Token.update(refresh_used_at=utcnow())
               .where(Token.id == old.id, Token.refresh_used_at.is_null(), Token.revoked_at.is_null()).execute())
    if not claimed:
        raise OAuthError("invalid_grant")
    with db.atomic():
        return issue_token(client, old.user, old.scope)


def _find_token(value):
    digest = token_hash(value)
    row = Token.get_or_none(Token.access_hash == digest)
    if row is not None:
        return row, "access"
    row = Token.get_or_none(Token.refresh_hash == digest)
    return (row, "refresh") if row is not None else (None, None)


@bp.post("/oauth/revoke")
def revoke():
    body = _body()
    client, _ = _authenticate_client(body)
    value = body.get("token")
    if not value:
        raise OAuthError("invalid_request")
    row, _ = _find_token(value)
    if row is not None:
        if row.client_id != client.id:
            raise OAuthError("unauthorized_client", 403)
        if row.revoked_at is None:
            row.revoked_at = utcnow()
            row.save()
    return "", 200


@bp.post("/oauth/introspect")
def introspect():
    body = _body()
    client, _ = _authenticate_client(body)
    value = body.get("token")
    if not value:
        raise OAuthError("invalid_request")
    row, kind = _find_token(value)
    if row is None or row.client_id != client.id:
        return jsonify({"active": False})
    if kind == "access":
        active = not row.access_revoked and row.expires_at > utcnow()
    else:
        active = not row.refresh_revoked
    if not active:
        return jsonify({"active": False})
    iat = calendar.timegm(row.created_at.timetuple())
    exp = calendar.timegm(row.expires_at.timetuple()) if kind == "access" else None
    return jsonify({
        "active": True, "scope": row.scope, "client_id": client.client_id,
        "token_type": "Bearer" if kind == "access" else "refresh_token", "exp": exp, "iat": iat,
        "owner": user_uri(row.user), "organization": org_uri(row.user.organization),
    })


@bp.get("/.well-known/oauth-authorization-server")
def discovery():
    base = base_url()
    return jsonify({
        "issuer": base, "authorization_endpoint": f"{base}/oauth/authorize", "token_endpoint": f"{base}/oauth/token",
        "revocation_endpoint": f"{base}/oauth/revoke", "introspection_endpoint": f"{base}/oauth/introspect",
        "response_types_supported": ["code"], "grant_types_supported": ["authorization_code", "refresh_token"],
        "code_challenge_methods_supported": ["S256", "plain"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
    })
