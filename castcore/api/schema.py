"""OpenAPI pieces: auth schemes, and the errors every operation can answer.

The error responses are derived from what the code does, in one place, so a new
endpoint is documented without per-view declarations:

- 400 (or the surface's validation status): a request body or query parameters;
  and 400 `request.malformed` on every operation (castcore/middleware.py refuses a
  NUL in any URL before the view runs);
- 401: every operation (DRF authenticates before any view runs, so a bad bearer
  token is refused on public operations too);
- 403: every operation but a view's `public_methods`;
- 404: a path with a parameter;
- 409: every non-anonymous write (`Conflict`: in use, running, name taken, a
  transition the state does not allow);
- 413 and 415: a request body (too large for its limit; a content type no
  parser takes, refused before the view runs);
- 413 `request.too_large` on every unsafe method, with or without a declared body
  (castcore/bodies.py refuses a body over the route's limit before the view runs);
- 429: views with throttles (login, refresh);
- what the view declares in `error_statuses` ({status: description}): statuses no
  rule can know (a 410, a 503), or derived from an app's code→status map with
  `error_statuses_for`. A viewset action declares its own as
  `@action(..., error_statuses=...)`, which DRF sets on the view for that route.

Each status is documented in the error shape of the surface the view serves:
the native envelope, or a peer's own (asciinema's `{"error": message, "code"}`),
which a view declares as `error_shapes`; the 400 and 413 that the web server
answers before any view runs are always in the native envelope. Responses a view
declares itself with `@extend_schema` win, and get the error shape's body when they
have none.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import ResolvedComponent

ERROR_COMPONENT = "ErrorEnvelope"
_ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "params", "level"],
            "properties": {
                "code": {"type": "string", "example": "validation.required"},
                "params": {"type": "object", "additionalProperties": True},
                "level": {"type": "string", "enum": ["error", "warning"]},
            },
        }
    },
}

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass(frozen=True)
class ErrorShape:
    """How one API surface writes its errors, for the schema."""

    component: str
    schema: dict[str, Any] = field(hash=False, compare=False)
    validation_status: str = "400"
    descriptions: dict[str, str] = field(default_factory=dict, hash=False, compare=False)
    # Statuses this surface answers in plain text, not JSON (Owncast's 401 and 404).
    plain_text: frozenset[str] = frozenset()


NATIVE_ERRORS = ErrorShape(
    ERROR_COMPONENT,
    _ERROR_SCHEMA,
    descriptions={
        "400": "Invalid request (`validation.*`, `request.malformed`, `request.json_too_deep`)",
        "401": "Not authenticated (`auth.*`)",
        "403": "Not allowed (`permission.*`)",
        "404": "Not found (`not_found`)",
        "409": "Conflicts with the current state (`<area>.in_use`, `.running`, `.name_taken`, "
        "`stream_job.invalid_transition`, …)",
        "413": "Request body too large (`<area>.too_large`)",
        "415": "Unsupported content type (`request.unsupported_media_type`)",
        "429": "Rate limited or locked out (`rate_limited`, `auth.locked_out`)",
    },
)

_GENERIC_DESCRIPTIONS = {
    "400": "Invalid request",
    "401": "Not authenticated",
    "403": "Not allowed",
    "404": "Not found",
    "409": "Conflicts with the current state",
    "410": "Gone",
    "413": "Too large",
    "415": "Unsupported content type",
    "422": "Invalid request",
    "429": "Rate limited",
}


#: Answered by the web server before any view runs (castcore/middleware.py,
#: castcore/bodies.py), in the native envelope whatever the view's surface.
_URL_REFUSED = "Malformed URL (`request.malformed`: a NUL in the path or query)"
_BODY_REFUSED = "Request body over the route's limit (`request.too_large`)"


def error_statuses_for(status_by_code: Mapping[str, int]) -> dict[str, str]:
    """`error_statuses` for a view that answers these error codes with these statuses."""
    codes_by_status: dict[str, list[str]] = {}
    for code, status in status_by_code.items():
        codes_by_status.setdefault(str(status), []).append(code)
    return {
        status: ", ".join(f"`{code}`" for code in sorted(codes))
        for status, codes in sorted(codes_by_status.items())
    }


def _server_statuses(method: str) -> dict[str, str]:
    statuses = {"400": _URL_REFUSED}
    if method in UNSAFE_METHODS:
        statuses["413"] = _BODY_REFUSED
    return statuses


def _error_statuses(
    auto_schema: AutoSchema, operation: dict[str, Any], shape: ErrorShape
) -> set[str]:
    view, method = auto_schema.view, auto_schema.method.upper()
    public = method in getattr(view, "public_methods", set())
    has_body = "requestBody" in operation
    in_query = any(p.get("in") == "query" for p in operation.get("parameters", []))
    # DRF authenticates every request before the view runs: a bad bearer token is a
    # 401 on public operations too (and a failed login is one).
    statuses = {"401"}
    if has_body or in_query:
        statuses.add(shape.validation_status)
    if not public:
        statuses.add("403")
        if method in UNSAFE_METHODS:
            statuses.add("409")
    if "{" in auto_schema.path:
        statuses.add("404")
    if has_body:
        statuses |= {"413", "415"}
    # Throttled views, and views that refuse a locked-out user (`checks_lockout = True`).
    if getattr(view, "throttle_classes", None) or getattr(view, "checks_lockout", False):
        statuses.add("429")
    return statuses


class CastCoreAutoSchema(AutoSchema):
    """Tags operations by their first path segment after /api/v1/; documents their errors."""

    def get_tags(self) -> list[str]:
        parts = [part for part in self.path.split("/") if part and not part.startswith("{")]
        if parts[:2] == ["api", "v1"] and len(parts) > 2:
            return [parts[2]]
        return super().get_tags()

    def get_operation(self, *args: Any, **kwargs: Any) -> dict[str, Any] | None:
        operation = super().get_operation(*args, **kwargs)
        if operation is not None:
            self._add_error_responses(operation)
        return operation

    def _error_body(self, shapes: list[ErrorShape], status: str) -> dict[str, Any]:
        if all(status in shape.plain_text for shape in shapes):
            return {"text/plain": {"schema": {"type": "string"}}}
        refs = []
        for shape in shapes:
            component = ResolvedComponent(
                name=shape.component,
                type=ResolvedComponent.SCHEMA,
                schema=shape.schema,
                object=shape.component,
            )
            self.registry.register_on_missing(component)
            refs.append(component.ref)
        schema = refs[0] if len(refs) == 1 else {"oneOf": refs}
        return {"application/json": {"schema": schema}}

    def _errors(
        self, operation: dict[str, Any], shapes: tuple[ErrorShape, ...]
    ) -> dict[str, tuple[list[ErrorShape], str]]:
        """Each status the operation can answer: the error shapes it comes in, a description."""
        by_status: dict[str, list[ErrorShape]] = {}
        for shape in shapes:
            for status in _error_statuses(self, operation, shape):
                by_status.setdefault(status, []).append(shape)
        descriptions: dict[str, str] = {}
        for status, description in _server_statuses(self.method.upper()).items():
            owners = by_status.setdefault(status, [])
            if not owners:
                descriptions[status] = description
            if NATIVE_ERRORS not in owners:
                owners.append(NATIVE_ERRORS)
        for status, owners in by_status.items():
            descriptions.setdefault(
                status,
                next(
                    (s.descriptions[status] for s in owners if status in s.descriptions),
                    _GENERIC_DESCRIPTIONS.get(status, "Error"),
                ),
            )
        declared: Mapping[str, str] = getattr(self.view, "error_statuses", None) or {}
        for status, description in declared.items():
            if status in by_status:
                descriptions[status] = f"{descriptions[status]}; {description}"
            else:
                by_status[status] = list(shapes)
                descriptions[status] = description
        return {status: (by_status[status], descriptions[status]) for status in by_status}

    def _add_error_responses(self, operation: dict[str, Any]) -> None:
        shapes: tuple[ErrorShape, ...] = getattr(self.view, "error_shapes", (NATIVE_ERRORS,))
        errors = self._errors(operation, shapes)
        responses = operation.setdefault("responses", {})
        for status, response in responses.items():
            # A status the view declared without a body gets the surface's error body
            # (and the envelope too when the web server answers it as well).
            if status[:1] in "45" and "content" not in response:
                owners = errors[status][0] if status in errors else list(shapes)
                response["content"] = self._error_body(owners, status)
        for status in sorted(errors):
            if status not in responses:
                owners, description = errors[status]
                responses[status] = {
                    "description": description,
                    "content": self._error_body(owners, status),
                }


def security_scheme(
    target_class: str, name: str, definition: dict[str, Any]
) -> type[OpenApiAuthenticationExtension]:
    """Name an authentication class's security scheme in the schema (its OpenAPI object)."""

    def get_security_definition(self: Any, auto_schema: AutoSchema) -> dict[str, Any]:
        return definition

    # Defining the subclass registers it with drf-spectacular.
    return type(
        f"{name}Scheme",
        (OpenApiAuthenticationExtension,),
        {
            "target_class": target_class,
            "name": name,
            "get_security_definition": get_security_definition,
        },
    )


class ApiTokenScheme(OpenApiAuthenticationExtension):
    target_class = "castcore.api.authentication.ApiTokenAuthentication"
    name = "apiToken"

    def get_security_definition(self, auto_schema: AutoSchema) -> dict[str, Any]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "Personal API token: `Authorization: Bearer cc_…`",
        }


class JWTScheme(OpenApiAuthenticationExtension):
    target_class = "castcore.api.authentication.JWTAuthentication"
    name = "jwt"

    def get_security_definition(self, auto_schema: AutoSchema) -> dict[str, Any]:
        return {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
