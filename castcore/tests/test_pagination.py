from typing import Any

import pytest
from rest_framework.test import APIClient

from apps.accounts.tests.factories import UserFactory
from castcore.api.pagination import MAX_LIMIT

pytestmark = pytest.mark.django_db


@pytest.fixture
def seven_users(admin_user: Any) -> None:
    UserFactory.create_batch(6)


def test_lists_answer_items_total_limit_offset(admin_api: APIClient, seven_users: None) -> None:
    body = admin_api.get("/api/v1/users?limit=3&offset=2&ordering=id").json()
    assert set(body) == {"items", "total", "limit", "offset"}
    assert (body["total"], body["limit"], body["offset"]) == (7, 3, 2)
    ids = [
        item["id"] for item in admin_api.get("/api/v1/users?limit=10&ordering=id").json()["items"]
    ]
    assert [item["id"] for item in body["items"]] == ids[2:5]


def test_offset_past_the_end_gives_an_empty_page(admin_api: APIClient, seven_users: None) -> None:
    body = admin_api.get("/api/v1/users?offset=100").json()
    assert body["items"] == [] and body["total"] == 7


def test_a_too_large_limit_is_capped(admin_api: APIClient, seven_users: None) -> None:
    assert admin_api.get("/api/v1/users?limit=100000").json()["limit"] == MAX_LIMIT


@pytest.mark.parametrize(
    ("query", "code", "field"),
    [
        ("limit=0", "validation.min_value", "limit"),
        ("limit=-5", "validation.min_value", "limit"),
        ("limit=ten", "validation.invalid", "limit"),
        ("offset=-1", "validation.min_value", "offset"),
        ("offset=1.5", "validation.invalid", "offset"),
        # int() reads Arabic-Indic digits; the API takes ASCII digits only.
        ("offset=\u0661", "validation.invalid", "offset"),
        ("limit=\u00b3", "validation.invalid", "limit"),
    ],
)
def test_bad_bounds_are_a_400_naming_the_field(
    admin_api: APIClient, query: str, code: str, field: str
) -> None:
    response = admin_api.get(f"/api/v1/users?{query}")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == code and error["params"]["field"] == field


def test_ordering_is_applied(admin_api: APIClient, seven_users: None) -> None:
    names = [
        u["username"] for u in admin_api.get("/api/v1/users?ordering=-username").json()["items"]
    ]
    assert names == sorted(names, reverse=True)


def test_filters_narrow_the_total(admin_api: APIClient, seven_users: None) -> None:
    body = admin_api.get("/api/v1/users?role=admin").json()
    assert body["total"] == 1 and body["items"][0]["username"] == "admin"


def test_an_offset_at_the_bigint_maximum_gives_an_empty_page(
    admin_api: APIClient, seven_users: None
) -> None:
    body = admin_api.get(f"/api/v1/users?offset={2**63 - 1}").json()
    assert body["items"] == [] and body["total"] == 7 and body["offset"] == 2**63 - 1
