"""The API's JSON parser: DRF's, with castcore.json_depth's bound on nesting.

A body nested deeper than MAX_JSON_DEPTH is a 400 `request.json_too_deep`
(params.max_depth); malformed JSON stays `request.malformed`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import IO, Any

from django.conf import settings
from rest_framework import parsers
from rest_framework.exceptions import ParseError

from castcore import json_depth


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser with the depth bound; malformed JSON is DRF's ParseError, as before."""

    def parse(
        self,
        stream: IO[Any],
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        # Imported here: castcore.api.errors imports DRF's views, which read this
        # parser from the settings while they load.
        from castcore.api.errors import ApiError

        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            text = stream.read().decode(encoding) if stream is not None else ""
        except UnicodeDecodeError as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
        try:
            return json_depth.loads(text, parse_constant=_reject_constant if self.strict else None)
        except json_depth.JSONTooDeep as exc:
            raise ApiError("request.json_too_deep", {"max_depth": exc.max_depth}) from None
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {exc}") from None


def _reject_constant(name: str) -> float:
    # As DRF's parser in strict mode: NaN and Infinity are not JSON.
    raise ValueError(f"{name} is not valid JSON")
