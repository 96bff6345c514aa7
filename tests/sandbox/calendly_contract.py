"""Validate sandbox responses and webhook payloads against Calendly's published
OpenAPI description (``reference/calendly/openapi.yaml``, copied into the repo) with openapi-core.

The 2023 copy of the spec has a few defects and gaps (see reference/calendly/SOURCE.txt
and API-FACTS.md); ``patched_spec`` repairs exactly those, each with its reason,
so that everything else is checked as published.
"""
import copy
import functools
import json
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import yaml
from openapi_core import Config, OpenAPI
from openapi_core.contrib.requests import RequestsOpenAPIRequest, RequestsOpenAPIResponse
from openapi_core.testing import MockRequest, MockResponse
from openapi_core.validation.schemas import oas30_read_schema_validators_factory

REPO_ROOT = Path(__file__).resolve().parents[2]
SPEC_PATH = REPO_ROOT / "reference" / "calendly" / "openapi.yaml"

ERROR = {"$ref": "#/components/schemas/ErrorResponse"}


def _error_response(description):
    return {"description": description, "content": {"application/json": {"schema": ERROR}}}


def _fix_scalar_enums(node):
    """``enum: The access token is invalid`` (a YAML scalar) must be a list."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "enum" and not isinstance(value, list):
                node[key] = [value]
            else:
                _fix_scalar_enums(value)
    elif isinstance(node, list):
        for item in node:
            _fix_scalar_enums(item)


@functools.lru_cache(maxsize=1)
def _published_spec():
    if not SPEC_PATH.exists():
        raise FileNotFoundError(f"Calendly OpenAPI spec missing: {SPEC_PATH}")
    return yaml.load(SPEC_PATH.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def patched_spec(base_url):
    spec = copy.deepcopy(_published_spec())
    spec["servers"] = [{"url": base_url}]
    # Defect: scalar enums.
    _fix_scalar_enums(spec)
    components = spec["components"]
    # 401 messages: API-FACTS §2 documents "...invalid" / "...expired" / "...was revoked".
    unauth = components["responses"]["UNAUTHENTICATED"]["content"]["application/json"]["schema"]["allOf"][1]
    unauth["properties"]["message"]["enum"] = [
        "The access token is invalid", "The access token is expired", "The access token was revoked"]
    # Plan gate text changed from "...to Professional" (2023 copy) to "...to Standard" (API-FACTS §4).
    create_hook_403 = spec["paths"]["/webhook_subscriptions"]["post"]["responses"]["403"]
    create_hook_403["content"]["application/json"]["schema"]["properties"]["message"]["enum"].append(
        "Please upgrade your Calendly account to Standard")
    # 429 (API-FACTS §8) and 500 can answer any operation; the 2023 copy lists them on few.
    for path_item in spec["paths"].values():
        for method, operation in path_item.items():
            if method in ("get", "post", "put", "patch", "delete") and isinstance(operation, dict):
                operation["responses"].setdefault("429", _error_response("Too Many Requests"))
                operation["responses"].setdefault("500", _error_response("Internal Server Error"))
    # Gaps (SOURCE.txt): GET /organizations/{uuid} and GET /event_type_memberships are newer than the copy.
    uuid_param = [{"name": "uuid", "in": "path", "required": True, "schema": {"type": "string"}}]
    std = {"401": components["responses"]["UNAUTHENTICATED"], "403": components["responses"]["PERMISSION_DENIED"],
           "404": components["responses"]["NOT_FOUND"], "400": components["responses"]["INVALID_ARGUMENT"],
           "429": _error_response("Too Many Requests"), "500": _error_response("Internal Server Error")}
    org = copy.deepcopy(components["schemas"]["Organization"])
    org["properties"]["kind"] = {"type": "string"}
    org["properties"]["name"] = {"type": "string"}
    org["required"] = org["required"] + ["name", "kind"]
    spec["paths"]["/organizations/{uuid}"] = {"parameters": uuid_param, "get": {"responses": {
        "200": {"description": "OK", "content": {"application/json": {"schema": {
            "type": "object", "required": ["resource"], "properties": {"resource": org}}}}}, **std}}}
    membership = {"type": "object", "required": ["uri", "event_type", "member", "created_at", "updated_at"],
                  "properties": {"uri": {"type": "string", "format": "uri"},
                                 "event_type": {"$ref": "#/components/schemas/EventType"},
                                 "member": {"$ref": "#/components/schemas/User"},
                                 "created_at": {"type": "string", "format": "date-time"},
                                 "updated_at": {"type": "string", "format": "date-time"}}}
    spec["paths"]["/event_type_memberships"] = {"get": {"responses": {
        "200": {"description": "OK", "content": {"application/json": {"schema": {
            "type": "object", "required": ["collection", "pagination"],
            "properties": {"collection": {"type": "array", "items": membership},
                           "pagination": {"$ref": "#/components/schemas/Pagination"}}}}}}, **std}}}
    _patch_scopes(spec)
    _patch_webhook_events(spec)
    _patch_oauth(spec)
    return spec


# Webhook events the 2023 copy lacks: invitee_no_show.* and event_type.* (API-FACTS §7, "Events").
NEW_EVENTS = ["invitee_no_show.created", "invitee_no_show.deleted",
              "event_type.created", "event_type.updated", "event_type.deleted"]
INVITEE_EVENTS = ("invitee.", "invitee_no_show.")

# Authorization scopes (since March 2026) are newer than the copy (API-FACTS §3): a token without an
# endpoint's scope gets 403 "Permission Denied" naming the scope; the wording is unconfirmed there, so the
# pattern pins only the sandbox's choice of naming the scope.
SCOPE_DENIED = {"type": "object", "required": ["title", "message"], "properties": {
    "title": {"type": "string", "enum": ["Permission Denied"]},
    "message": {"type": "string",
                "pattern": r"^Insufficient scope\. This request requires the [a-z_]+:(read|write) scope\.$"}}}


def _patch_scopes(spec):
    """Any operation may answer 403 for a missing scope (API-FACTS §3), besides the 403s it documents."""
    for path_item in spec["paths"].values():
        for method, operation in path_item.items():
            if method not in ("get", "post", "put", "patch", "delete") or not isinstance(operation, dict):
                continue
            documented = operation["responses"].get("403")
            if documented is None:
                operation["responses"]["403"] = {"description": "Permission Denied", "content": {
                    "application/json": {"schema": SCOPE_DENIED}}}
                continue
            documented = copy.deepcopy(documented)
            if "$ref" in documented:
                name = documented["$ref"].rsplit("/", 1)[1]
                documented = copy.deepcopy(spec["components"]["responses"][name])
            content = documented.setdefault("content", {}).setdefault("application/json", {})
            original = content.get("schema", ERROR)
            content["schema"] = {"anyOf": [original, SCOPE_DENIED]}
            content.pop("examples", None)
            operation["responses"]["403"] = documented


def _patch_webhook_events(spec):
    """The new event names in subscriptions (request and resource) and in the delivery envelope, whose
    payload is the Invitee for invitee_no_show.* and the EventType for event_type.* (API-FACTS §7)."""
    create = spec["paths"]["/webhook_subscriptions"]["post"]["requestBody"]["content"]["application/json"]
    create["schema"]["properties"]["events"]["items"]["enum"] += NEW_EVENTS
    schemas = spec["components"]["schemas"]
    schemas["WebhookSubscription"]["properties"]["events"]["items"]["enum"] += NEW_EVENTS
    schemas["WebhookPayload"]["properties"]["event"]["enum"] += NEW_EVENTS
    schemas["WebhookPayload"]["properties"]["payload"]["oneOf"].append({"$ref": "#/components/schemas/EventType"})


def _patch_oauth(spec):
    """The OAuth server (auth.calendly.com) is missing from the copy (SOURCE.txt); token and introspect
    responses as API-FACTS §3 gives them: ``scope`` is ``default`` for legacy apps, else the granted
    scopes space-separated; 429 from the token endpoint (8 per user per minute, API-FACTS §3/§8)."""
    oauth_error = {"type": "object", "required": ["error"], "properties": {
        "error": {"type": "string"}, "error_description": {"type": "string"}}}
    scope = {"type": "string", "pattern": r"^(default|([a-z_]+:(read|write))( [a-z_]+:(read|write))*)?$"}
    token = {"type": "object", "required": ["token_type", "expires_in", "created_at", "access_token",
                                            "refresh_token", "scope", "owner", "organization"],
             "properties": {"token_type": {"type": "string", "enum": ["Bearer"]},
                            "expires_in": {"type": "integer"}, "created_at": {"type": "integer"},
                            "access_token": {"type": "string"}, "refresh_token": {"type": "string"},
                            "scope": scope, "owner": {"type": "string", "format": "uri"},
                            "organization": {"type": "string", "format": "uri"}}}
    introspection = {"type": "object", "required": ["active"], "properties": {
        "active": {"type": "boolean"}, "scope": scope, "client_id": {"type": "string"},
        "token_type": {"type": "string"}}}

    def answers(ok, *errors):
        out = {"200": {"description": "OK", "content": {"application/json": {"schema": ok}}}}
        for status in errors:
            out[status] = {"description": "Error", "content": {"application/json": {"schema": oauth_error}}}
        return out

    spec["paths"]["/oauth/token"] = {"post": {"responses": answers(token, "400", "401", "429")}}
    spec["paths"]["/oauth/introspect"] = {"post": {"responses": answers(introspection, "400", "401")}}


class Contract:
    """Checks responses (Flask test client or requests) and webhook payloads."""

    def __init__(self, base_url):
        self.base_url = base_url.rstrip("/")
        self.api = OpenAPI.from_dict(patched_spec(self.base_url), config=Config(spec_validator_cls=None))
        self.checked = 0

    # -- responses
    def check_flask(self, method, path, response):
        parts = urlsplit(path)
        request = MockRequest(self.base_url, method.lower(), parts.path, args=dict(parse_qsl(parts.query)))
        mock = MockResponse(response.get_data(), status_code=response.status_code,
                            headers=dict(response.headers),
                            content_type=response.mimetype or "application/json")
        self.api.validate_response(request, mock)
        self.checked += 1

    def check_requests(self, response):
        self.api.validate_response(RequestsOpenAPIRequest(response.request), RequestsOpenAPIResponse(response))
        self.checked += 1

    # -- webhook payloads
    def _schema_validator(self, name):
        schema = self.api.spec / "components" / "schemas" / name
        return oas30_read_schema_validators_factory.create(self.api.spec, schema)

    def check_payload(self, payload):
        """A webhook envelope: WebhookPayload, and its payload an Invitee (+ full Event) for invitee.* and
        invitee_no_show.*, an EventType for event_type.*."""
        if isinstance(payload, (bytes, str)):
            payload = json.loads(payload)
        self._schema_validator("WebhookPayload").validate(payload)
        if payload["event"].startswith(INVITEE_EVENTS):
            self._schema_validator("Invitee").validate(payload["payload"])
            self._schema_validator("Event").validate(payload["payload"]["scheduled_event"])
        else:
            self._schema_validator("EventType").validate(payload["payload"])
        self.checked += 1
