"""No input is a 500: every list, every path parameter and every JSON body is walked.

The URLconf is walked as in test_every_endpoint_rbac.py, so endpoints added later
are covered without new code. An Admin sends the requests: they pass the access
rules, so the input reaches the code that parses it.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client
from rest_framework.test import APIClient

from apps.recordings.tests.helpers import linked_cli
from castcore.api.filters import MAX_ID
from castcore.json_depth import MAX_JSON_DEPTH
from castcore.tests import url_walk

pytestmark = pytest.mark.django_db

# Beyond a BIGINT; a digit that str.isdigit() accepts and int() refuses; a digit
# int() reads as 1 although it is not ASCII; NUL, which PostgreSQL refuses in text.
HOSTILE_VALUES = [str(2**63), "³", "\u0661", "-1", "9" * 5000, "a\x00b"]
DEEP_JSON = "[" * 1000 + "]" * 1000


def _routes() -> list[tuple[str, Any]]:
    return [
        (route, pattern)
        for route, pattern in url_walk.walk()
        if url_walk.view_class(pattern.callback) is not None
        and ("/" + url_walk.sample_path(route)).startswith("/api/")
    ]


ROUTES = _routes()
PAGES = [
    (method, "/" + url_walk.sample_path(route, value))
    for route, pattern in url_walk.walk()
    if url_walk.has_parameters(route) and not url_walk.sample_path(route).startswith("api/")
    for method in sorted(url_walk.methods(pattern.callback) or {"GET", "POST"})
    for value in HOSTILE_VALUES
]
LISTS = [
    "/" + url_walk.sample_path(route)
    for route, pattern in ROUTES
    if not url_walk.has_parameters(route) and "GET" in url_walk.methods(pattern.callback)
]
DETAILS = [
    (method, "/" + url_walk.sample_path(route, value))
    for route, pattern in ROUTES
    if url_walk.has_parameters(route)
    for method in sorted(url_walk.methods(pattern.callback))
    for value in HOSTILE_VALUES
]
BODIES = [
    (method, "/" + url_walk.sample_path(route))
    for route, pattern in ROUTES
    for method in sorted(url_walk.methods(pattern.callback) & {"POST", "PUT", "PATCH"})
]


def _assert_answered(response: Any, what: str) -> None:
    # Other 5xx are answers by design (health's 503 names the failing parts).
    assert response.status_code != 500, (what, response.status_code, response.content[:300])
    if 400 <= response.status_code < 500 and response["Content-Type"].startswith(
        "application/json"
    ):
        body = response.json()
        assert "error" in body, (what, body)


def test_the_walk_finds_lists_details_and_bodies() -> None:
    assert {"/api/v1/users", "/api/v1/assets", "/api/v1/recordings"} <= set(LISTS)
    assert ("GET", "/api/v1/recordings/³") in DETAILS
    assert ("POST", "/api/v1/auth/login") in BODIES
    assert ("GET", "/r/³") in PAGES


@pytest.mark.parametrize("path", LISTS)
def test_every_list_answers_an_offset_of_2_to_the_63_without_a_500(
    admin_api: APIClient, path: str
) -> None:
    response = admin_api.get(path, {"offset": str(2**63)})
    _assert_answered(response, path)


# Walks that render many pages (or the schema) each time: minutes, not seconds, when four
# test workers share two cores with other work; pytest.ini's 300 s is for one test's hang.
WALK_TIMEOUT = pytest.mark.timeout(1200)


@WALK_TIMEOUT
@pytest.mark.parametrize("path", LISTS)
def test_every_list_answers_hostile_filter_values_without_a_500(
    admin_api: APIClient, path: str
) -> None:
    view = url_walk.view_class(next(p for r, p in ROUTES if "/" + url_walk.sample_path(r) == path))
    names = set(getattr(view, "filterset_fields", None) or [])
    filterset = getattr(view, "filterset_class", None)
    if filterset is not None:
        names |= set(filterset.base_filters)
    names |= {"limit", "offset", "ordering", "cursor", "prefix"}
    for name in sorted(names):
        for value in HOSTILE_VALUES:
            response = admin_api.get(path, {name: value})
            _assert_answered(response, f"{path}?{name}={value[:20]}")


@pytest.mark.parametrize(("method", "path"), DETAILS, ids=[f"{m} {p[:60]}" for m, p in DETAILS])
def test_every_path_parameter_answers_hostile_values_without_a_500(
    admin_api: APIClient, method: str, path: str
) -> None:
    response = admin_api.generic(method, path, data="{}", content_type="application/json")
    _assert_answered(response, f"{method} {path[:80]}")


@WALK_TIMEOUT
def test_every_page_path_parameter_answers_hostile_values_without_a_500(admin_user: Any) -> None:
    # Pages and the admin, as a signed-in Admin (one test: a browser session per case is slow).
    browser = Client()
    browser.force_login(admin_user)
    failures = []
    for method, path in PAGES:
        status = browser.generic(method, path).status_code
        if status == 500:
            failures.append(f"{method} {path[:80]}")
    assert not failures


@pytest.mark.parametrize(("method", "path"), BODIES, ids=[f"{m} {p}" for m, p in BODIES])
def test_every_json_body_nested_a_thousand_levels_is_refused_without_a_500(
    admin_api: APIClient, method: str, path: str
) -> None:
    response = admin_api.generic(method, path, data=DEEP_JSON, content_type="application/json")
    _assert_answered(response, f"{method} {path}")


def test_deep_json_through_the_login_is_a_400_naming_the_limit(api: APIClient) -> None:
    response = api.post("/api/v1/auth/login", data=DEEP_JSON, content_type="application/json")
    assert response.status_code == 400
    assert response.json() == {
        "error": {
            "code": "request.json_too_deep",
            "params": {"max_depth": MAX_JSON_DEPTH},
            "level": "error",
        }
    }


def test_json_just_within_the_depth_limit_is_parsed(api: APIClient) -> None:
    nested: Any = "x"
    for _ in range(MAX_JSON_DEPTH - 1):
        nested = [nested]
    body = json.dumps({"username": nested, "password": "whatever-password"})
    response = api.post("/api/v1/auth/login", data=body, content_type="application/json")
    # Parsed, then refused by the serializer: a username is not a list.
    assert response.status_code == 400
    assert response.json()["error"]["code"].startswith("validation.")


def test_a_unicode_digit_as_a_recording_key_is_a_404(admin_api: APIClient) -> None:
    response = admin_api.get("/api/v1/recordings/³")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_an_offset_beyond_a_bigint_is_a_400_naming_the_maximum(admin_api: APIClient) -> None:
    response = admin_api.get("/api/v1/users", {"offset": str(2**63)})
    assert response.status_code == 400
    assert response.json()["error"] == {
        "code": "validation.max_value",
        "params": {"field": "offset", "max": MAX_ID},
        "level": "error",
    }


@pytest.mark.parametrize(
    "query", ["limit=³", "limit=\u0661", f"limit={'9' * 5000}", "cursor=" + "W" * 40]
)
def test_the_asciinema_streams_list_answers_hostile_query_values_without_a_500(
    query: str,
) -> None:
    # Install-ID clients only, so the admin walk above never reaches its parameters.
    cli = linked_cli()
    response = cli.get(f"/api/v1/user/streams?{query}")
    assert response.status_code in (200, 422), (query[:30], response.content[:200])


@pytest.mark.parametrize(
    "path", ["/media/%00", "/api/v1/recordings/%00", "/api/v1/audit?actor=%00"]
)
def test_a_nul_in_a_url_is_a_400_before_any_lookup(admin_api: APIClient, path: str) -> None:
    response = admin_api.get(path)
    assert response.status_code == 400
    if path.startswith("/api/"):
        assert response.json()["error"]["code"] == "request.malformed"
