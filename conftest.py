"""Fixtures shared by every app's tests."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from asgiref.sync import SyncToAsync
from django.conf import settings
from django.core.cache import cache
from django.db import connection, connections
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from apps.accounts.roles import Role
from apps.accounts.tests.factories import PASSWORD, UserFactory

# Property tests check what holds, not how fast: on a loaded machine (parallel test
# workers, CI neighbours) the default 200 ms deadline and the slow-generation check
# failed tests whose properties held. Speed is measured in bench/.
hypothesis_settings.register_profile(
    "castcore", deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
hypothesis_settings.load_profile("castcore")


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    # Throttle counters and lockouts live in the cache; no test inherits another's.
    cache.clear()


@pytest.fixture(autouse=True)
def _fresh_chat_rules() -> Iterator[None]:
    # Stream and identity ids come back after a test's rows are flushed: no test (of the
    # chat, the Owncast surface or the chat API's tokens) sees another's rules or counts.
    from apps.chat import ratelimit, selectors

    selectors.forget_send_rules()
    ratelimit.forget()
    yield
    selectors.forget_send_rules()


@pytest.fixture(autouse=True)
def _close_executor_thread_connections() -> Iterator[None]:
    """Close the database connection of asgiref's sync thread after each test.

    Async code (consumers, database_sync_to_async) runs ORM calls in one
    long-lived executor thread whose connection outlives the test; on
    PostgreSQL an idle transaction there blocks the next test's TRUNCATE.
    """
    yield
    executor = getattr(SyncToAsync, "single_thread_executor", None)
    if executor is not None:
        executor.submit(connections.close_all).result(timeout=30)


@pytest.fixture
def password() -> str:
    return PASSWORD


@pytest.fixture
def api() -> APIClient:
    return APIClient()


def _client_for(user: Any) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {RefreshToken.for_user(user).access_token}")
    client.user = user  # type: ignore[attr-defined]
    return client


@pytest.fixture
def client_for() -> Callable[[Any], APIClient]:
    return _client_for


@pytest.fixture
def admin_user(db: None) -> Any:
    return UserFactory(username="admin", role=Role.ADMIN)


@pytest.fixture
def operator_user(db: None) -> Any:
    return UserFactory(username="operator", role=Role.OPERATOR)


@pytest.fixture
def viewer_user(db: None) -> Any:
    return UserFactory(username="viewer", role=Role.VIEWER)


@pytest.fixture
def admin_api(admin_user: Any) -> APIClient:
    return _client_for(admin_user)


@pytest.fixture
def operator_api(operator_user: Any) -> APIClient:
    return _client_for(operator_user)


@pytest.fixture
def viewer_api(viewer_user: Any) -> APIClient:
    return _client_for(viewer_user)


@pytest.fixture
def distributed_db(transactional_db: None) -> dict[str, str]:
    """The environment of a server process in the distributed mode, on the test database.

    Its settings are castcore.settings as this test worker keeps them apart (its Redis
    database and channel-layer prefix: castcore/settings_isolated.py).
    Skips unless the tests run on PostgreSQL and Redis (as .ci/run does).
    """
    if not settings.DISTRIBUTED or connection.vendor != "postgresql":
        pytest.skip("needs DATABASE_URL (PostgreSQL) and REDIS_URL: run by .ci/run")
    db = connection.settings_dict
    url = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    return {
        **os.environ,
        "DATABASE_URL": url,
        "DJANGO_SETTINGS_MODULE": "castcore.settings_isolated",
        "CASTCORE_WORKER_HEARTBEAT_SECONDS": "1",
    }
