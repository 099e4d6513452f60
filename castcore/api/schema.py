"""OpenAPI pieces: auth schemes and the error envelope on every native operation."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema

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
_ERROR_STATUSES = {
    "400": "Invalid request (validation.*, request.*)",
    "401": "Not authenticated (auth.*)",
    "403": "Not allowed (permission.*)",
    "404": "Not found",
    "429": "Rate limited or locked out",
}


class CastCoreAutoSchema(AutoSchema):
    """Tags operations by their first path segment after /api/v1/."""

    def get_tags(self) -> list[str]:
        parts = [part for part in self.path.split("/") if part and not part.startswith("{")]
        if parts[:2] == ["api", "v1"] and len(parts) > 2:
            return [parts[2]]
        return super().get_tags()


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


def add_error_responses(result: dict[str, Any], generator: Any, **kwargs: Any) -> dict[str, Any]:
    """Document the error envelope on every native operation that lacks one."""
    components = result.setdefault("components", {}).setdefault("schemas", {})
    components[ERROR_COMPONENT] = _ERROR_SCHEMA
    ref = {"$ref": f"#/components/schemas/{ERROR_COMPONENT}"}
    for path, operations in result.get("paths", {}).items():
        if not path.startswith("/api/v1/"):
            continue
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            for status, description in _ERROR_STATUSES.items():
                responses.setdefault(
                    status,
                    {"description": description, "content": {"application/json": {"schema": ref}}},
                )
    return result
