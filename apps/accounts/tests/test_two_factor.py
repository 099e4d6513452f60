from typing import Any

import pytest
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


def _code_at(device: TOTPDevice, when: int) -> str:
    from django_otp.oath import TOTP

    generator = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    generator.time = when
    return f"{generator.token():0{device.digits}d}"


def enrol(client: APIClient, user: Any) -> TOTPDevice:
    response = client.post("/api/v1/auth/2fa/enroll")
    assert response.status_code == 201
    body = response.json()
    assert body["provisioning_uri"].startswith("otpauth://totp/")
    assert body["qr_svg"].lstrip().startswith("<?xml") or "<svg" in body["qr_svg"]
    device = TOTPDevice.objects.get(user=user)
    assert not device.confirmed
    return device


def confirmed_device(client: APIClient, user: Any) -> TOTPDevice:
    device = enrol(client, user)
    response = client.post(
        "/api/v1/auth/2fa/confirm",
        {"code": _code_at(device, int(timezone.now().timestamp()))},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["has_2fa"] is True
    return TOTPDevice.objects.get(pk=device.pk)


def test_enrolment_is_confirmed_by_a_first_code(viewer_api: APIClient, viewer_user: Any) -> None:
    device = confirmed_device(viewer_api, viewer_user)
    assert device.confirmed


def test_a_wrong_confirmation_code_is_refused(viewer_api: APIClient, viewer_user: Any) -> None:
    enrol(viewer_api, viewer_user)
    response = viewer_api.post("/api/v1/auth/2fa/confirm", {"code": "000000"}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "auth.2fa_invalid_code"


def test_enrolling_twice_once_confirmed_is_a_conflict(
    viewer_api: APIClient, viewer_user: Any
) -> None:
    confirmed_device(viewer_api, viewer_user)
    response = viewer_api.post("/api/v1/auth/2fa/enroll")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "auth.2fa_already_enrolled"


def login_challenge(api: APIClient, password: str) -> str:
    response = api.post(
        "/api/v1/auth/login", {"username": "viewer", "password": password}, format="json"
    )
    assert response.status_code == 200
    body = response.json()
    assert body["result"] == "auth.2fa_required"
    assert "access" not in body and "refresh" not in body
    return str(body["challenge"])


def test_login_with_2fa_needs_the_challenge_and_a_code(
    api: APIClient, viewer_api: APIClient, viewer_user: Any, password: str
) -> None:
    device = confirmed_device(viewer_api, viewer_user)
    challenge = login_challenge(api, password)
    # The confirmation used the current step; the next one is a fresh code.
    code = _code_at(device, int(timezone.now().timestamp()) + device.step)
    response = api.post(
        "/api/v1/auth/2fa/verify", {"challenge": challenge, "code": code}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["access"]


def test_a_used_code_cannot_be_replayed(
    api: APIClient, viewer_api: APIClient, viewer_user: Any, password: str
) -> None:
    device = confirmed_device(viewer_api, viewer_user)
    code = _code_at(device, int(timezone.now().timestamp()) + device.step)
    first = api.post(
        "/api/v1/auth/2fa/verify",
        {"challenge": login_challenge(api, password), "code": code},
        format="json",
    )
    assert first.status_code == 200
    replay = api.post(
        "/api/v1/auth/2fa/verify",
        {"challenge": login_challenge(api, password), "code": code},
        format="json",
    )
    assert replay.status_code == 401
    assert replay.json()["error"]["code"] == "auth.2fa_invalid_code"


def test_a_tampered_challenge_is_refused(
    api: APIClient, viewer_api: APIClient, viewer_user: Any, password: str
) -> None:
    confirmed_device(viewer_api, viewer_user)
    challenge = login_challenge(api, password)
    response = api.post(
        "/api/v1/auth/2fa/verify",
        {"challenge": challenge[:-2] + "xx", "code": "123456"},
        format="json",
    )
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "auth.2fa_challenge_invalid"


def test_an_expired_challenge_is_refused(
    api: APIClient, viewer_api: APIClient, viewer_user: Any, password: str, settings: Any
) -> None:
    confirmed_device(viewer_api, viewer_user)
    challenge = login_challenge(api, password)
    settings.TWO_FACTOR_CHALLENGE_SECONDS = -1
    response = api.post(
        "/api/v1/auth/2fa/verify", {"challenge": challenge, "code": "123456"}, format="json"
    )
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "auth.2fa_challenge_expired"


def test_a_wrong_code_throttles_the_next_attempt(viewer_api: APIClient, viewer_user: Any) -> None:
    device = confirmed_device(viewer_api, viewer_user)
    assert (
        viewer_api.post("/api/v1/auth/2fa/disable", {"code": "000000"}, format="json").status_code
        == 400
    )
    # django-otp backs off after a failure: even the right code waits.
    code = _code_at(device, int(timezone.now().timestamp()) + device.step)
    assert (
        viewer_api.post("/api/v1/auth/2fa/disable", {"code": code}, format="json").status_code
        == 400
    )


def test_disabling_needs_a_valid_code(
    viewer_api: APIClient, viewer_user: Any, settings: Any
) -> None:
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    device = confirmed_device(viewer_api, viewer_user)
    assert (
        viewer_api.post("/api/v1/auth/2fa/disable", {"code": "000000"}, format="json").status_code
        == 400
    )
    code = _code_at(device, int(timezone.now().timestamp()) + device.step)
    response = viewer_api.post("/api/v1/auth/2fa/disable", {"code": code}, format="json")
    assert response.status_code == 200 and response.json()["has_2fa"] is False
