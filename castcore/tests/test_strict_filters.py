"""castcore.api.filters: a yes/no filter or an ordering it does not know is refused, not ignored."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/users?ordering=bogus",
        "/api/v1/users?ordering=id,-nope",
        "/api/v1/media?ordering=password",
    ],
)
def test_every_list_refuses_an_unknown_ordering(admin_api: Any, url: str) -> None:
    response = admin_api.get(url)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "validation.invalid_choice"
    assert error["params"]["field"] == "ordering" and error["params"]["allowed"]


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("recordings?hidden=maybe", 400),
        ("replay?published=maybe", 400),
        ("media?missing=maybe", 400),
        ("media?probe_failed=yes", 400),
        ("recordings?hidden=false", 200),
        ("replay?published=1", 200),
        ("media?missing=0", 200),
    ],
)
def test_yes_no_filters_take_true_false_1_and_0_and_refuse_the_rest(
    admin_api: Any, query: str, status: int
) -> None:
    assert admin_api.get(f"/api/v1/{query}").status_code == status
