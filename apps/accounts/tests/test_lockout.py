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
