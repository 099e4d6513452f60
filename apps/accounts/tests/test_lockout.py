from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from apps.accounts.tests.test_two_factor import _code_at, confirmed_device

pytestmark = pytest.mark.django_db


def login(api: APIClient, password: str) -> Any:
    return api.post(
        "/api/v1/auth/login", {"username": "viewer", "password": password}, format="json"
    )


def test_repeated_wrong_passwords_lock_the_account_out(
    api: APIClient, viewer_user: Any, password: str, settings: Any
) -> None:
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert login(api, "wrong-password").status_code == 401
    # The failure that reaches the limit is itself answered with the lockout.
    assert login(api, "wrong-password").status_code == 429
    locked = login(api, password)  # even the right password is refused now
    assert locked.status_code == 429
    assert locked.json()["error"]["code"] == "auth.locked_out"
    assert locked.json()["error"]["params"]["retry_after"] > 0


def test_a_success_before_the_limit_resets_the_count(
    api: APIClient, viewer_user: Any, password: str, settings: Any
) -> None:
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        login(api, "wrong-password")
    assert login(api, password).status_code == 200
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        login(api, "wrong-password")
    assert login(api, password).status_code == 200


def test_wrong_2fa_codes_count_towards_the_same_lockout(
    api: APIClient, viewer_api: APIClient, viewer_user: Any, password: str, settings: Any
) -> None:
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    device = confirmed_device(viewer_api, viewer_user)
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        challenge = login(api, password).json()["challenge"]
        bad = api.post(
            "/api/v1/auth/2fa/verify", {"challenge": challenge, "code": "000000"}, format="json"
        )
        assert bad.status_code == 401
    challenge = login(api, password).json()["challenge"]
    last = api.post(
        "/api/v1/auth/2fa/verify", {"challenge": challenge, "code": "000000"}, format="json"
    )
    assert last.status_code == 429
    assert last.json()["error"]["code"] == "auth.locked_out"
    good = _code_at(device, int(timezone.now().timestamp()) + device.step)
    after = api.post(
        "/api/v1/auth/2fa/verify", {"challenge": challenge, "code": good}, format="json"
    )
    assert after.status_code == 429


def test_lockout_applies_to_the_admin_login_page(
    client: Any, viewer_user: Any, admin_user: Any, password: str, settings: Any
) -> None:
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post("/admin/login/", {"username": "admin", "password": "wrong-password"})
    response = client.post("/admin/login/", {"username": "admin", "password": password})
    assert response.status_code == 429


def lock_out(api: APIClient, settings: Any, **extra: Any) -> Any:
    """Fail as often as the limit allows; the last answer is the lockout."""
    for _ in range(settings.AXES_FAILURE_LIMIT):
        answer = api.post(
            "/api/v1/auth/login",
            {"username": "viewer", "password": "wrong-password"},
            format="json",
            **extra,
        )
    assert answer.status_code == 429
    return answer


def test_a_locked_out_user_cannot_refresh_a_session(
    api: APIClient, viewer_user: Any, password: str, settings: Any
) -> None:
    refresh = login(api, password).json()["refresh"]
    lock_out(api, settings)
    response = api.post("/api/v1/auth/refresh", {"refresh": refresh}, format="json")
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "auth.locked_out"
    assert 0 < int(response["Retry-After"]) <= settings.AXES_COOLOFF_TIME.total_seconds()
    assert "access" not in response.json()


def test_after_the_lockout_the_same_refresh_token_works_again(
    api: APIClient, viewer_user: Any, password: str, settings: Any
) -> None:
    from axes.models import AccessAttempt

    refresh = login(api, password).json()["refresh"]
    lock_out(api, settings)
    past = timezone.now() - settings.AXES_COOLOFF_TIME - timedelta(seconds=1)
    AccessAttempt.objects.update(attempt_time=past)
    response = api.post("/api/v1/auth/refresh", {"refresh": refresh}, format="json")
    assert response.status_code == 200 and response.json()["access"]


def test_every_lockout_answer_carries_retry_after_with_the_time_left(
    api: APIClient, viewer_user: Any, password: str, settings: Any
) -> None:
    from axes.models import AccessAttempt

    cooloff = int(settings.AXES_COOLOFF_TIME.total_seconds())
    first = lock_out(api, settings)
    assert int(first["Retry-After"]) == first.json()["error"]["params"]["retry_after"]
    assert cooloff - 5 <= int(first["Retry-After"]) <= cooloff
    # Ten minutes later, five are left, and every answer says so.
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=10))
    left = cooloff - 600
    for response in (
        login(api, password),
        api.post("/api/v1/auth/login", {"username": "viewer", "password": "x"}, format="json"),
    ):
        assert response.status_code == 429
        assert left - 5 <= int(response["Retry-After"]) <= left
        assert response.json()["error"]["params"]["retry_after"] == int(response["Retry-After"])


def test_the_admin_page_lockout_carries_retry_after_with_the_time_left(
    client: Any, admin_user: Any, password: str, settings: Any
) -> None:
    from axes.models import AccessAttempt

    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post("/admin/login/", {"username": "admin", "password": "wrong-password"})
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=10))
    response = client.post("/admin/login/", {"username": "admin", "password": password})
    assert response.status_code == 429
    # The admin form counts a try while locked out as one more failure (django-axes),
    # which starts the cool-off again: the answer says how long that is.
    attempt = AccessAttempt.objects.get(username="admin")
    left = (attempt.attempt_time + settings.AXES_COOLOFF_TIME - timezone.now()).total_seconds()
    assert abs(int(response["Retry-After"]) - left) <= 2


def test_the_lockout_holds_for_the_user_name_from_that_address_only(
    api: APIClient, viewer_user: Any, password: str, settings: Any
) -> None:
    lock_out(api, settings)
    assert login(api, password).status_code == 429
    elsewhere = api.post(
        "/api/v1/auth/login",
        {"username": "viewer", "password": password},
        format="json",
        REMOTE_ADDR="192.0.2.50",
    )
    assert elsewhere.status_code == 200
