from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from typing import Any

import pytest
from django.urls import include, path
from django.utils import timezone
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.test import APIClient
from rest_framework.views import APIView

from apps.integrations.authentication import IntegrationTokenAuthentication, requires_scope
from apps.integrations.models import IntegrationToken, Scope
from apps.integrations.tokens import integration_token_find
from castcore.api.authentication import JWTAuthentication

pytestmark = pytest.mark.django_db


class ChatSendProbe(APIView):
    """A view that takes integration tokens with the chat.send scope (requires_scope)."""

    authentication_classes = [IntegrationTokenAuthentication, JWTAuthentication]
    permission_classes = [requires_scope(Scope.CHAT_SEND)]
    public_methods = {"POST"}

    def post(self, request: Request) -> Response:
        return Response({"who": str(request.user)})


urlpatterns = [path("probe", ChatSendProbe.as_view()), path("", include("castcore.urls"))]


def _issue(admin_api: Any, **body: Any) -> dict[str, Any]:
    response = admin_api.post("/api/v1/access-tokens", {"name": "bot", **body})
    assert response.status_code == 201, response.json()
    return dict(response.json())


def test_a_token_is_shown_once_and_stored_hashed(admin_api: Any) -> None:
    created = _issue(admin_api, scopes=["chat.send", "read"])
    raw = created["token"]
    assert raw.startswith("cci_") and created["scopes"] == ["chat.send", "read"]
    stored = IntegrationToken.objects.get()
    assert raw not in (stored.token_hash, stored.last4) and len(stored.token_hash) == 64
    listed = admin_api.get("/api/v1/access-tokens").json()["items"][0]
    assert listed["token"] == "cci_••••" + raw[-4:]


def test_only_admins_manage_tokens(operator_api: Any) -> None:
    assert operator_api.get("/api/v1/access-tokens").status_code == 403
    assert operator_api.post("/api/v1/access-tokens", {"name": "x"}).status_code == 403


def test_scopes_are_checked_against_the_list(admin_api: Any) -> None:
    response = admin_api.post("/api/v1/access-tokens", {"name": "x", "scopes": ["root"]})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation.invalid_choice"
    assert "chat.moderate" in response.json()["error"]["params"]["allowed"]


@pytest.mark.urls(__name__)
def test_a_token_with_the_scope_passes_and_its_use_is_recorded(admin_api: Any) -> None:
    raw = _issue(admin_api, scopes=["chat.send"])["token"]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    response = client.post("/probe")
    assert response.status_code == 200 and response.json() == {"who": "integration:bot"}
    assert IntegrationToken.objects.get().last_used_at is not None


@pytest.mark.urls(__name__)
def test_a_token_without_the_scope_is_forbidden(admin_api: Any) -> None:
    raw = _issue(admin_api, scopes=["read"])["token"]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert client.post("/probe").status_code == 403


@pytest.mark.urls(__name__)
def test_a_revoked_or_expired_token_is_refused(admin_api: Any) -> None:
    created = _issue(admin_api, scopes=["chat.send"])
    assert admin_api.delete(f"/api/v1/access-tokens/{created['id']}").status_code == 204
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {created['token']}")
    response = client.post("/probe")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "auth.token_invalid"
    expired = _issue(
        admin_api, scopes=["chat.send"], expires_at=timezone.now() + timedelta(hours=1)
    )
    IntegrationToken.objects.filter(pk=expired["id"]).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {expired['token']}")
    assert client.post("/probe").status_code == 401


def test_an_expiry_in_the_past_is_refused(admin_api: Any) -> None:
    past = (timezone.now() - timedelta(minutes=1)).isoformat()
    body = {"name": "x", "scopes": ["read"], "expires_at": past}
    response = admin_api.post("/api/v1/access-tokens", body)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation.expires_in_past"


def test_an_integration_token_opens_no_native_endpoint(admin_api: Any) -> None:
    raw = _issue(admin_api, scopes=["stream.admin", "read"])["token"]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert client.get("/api/v1/stream-jobs").status_code == 401


def test_a_presented_token_is_registered_for_redaction_only_once_it_matches(
    caplog: pytest.LogCaptureFixture,
) -> None:
    import logging

    from castcore.secrets import redact
    from castcore.serve import redact_request_line

    # Made as another process would have (only the hash here): nothing registered it yet.
    real = "cci_" + "r" * 40
    digest = hashlib.sha256(real.encode()).hexdigest()
    IntegrationToken.objects.create(name="bot", scopes=["read"], token_hash=digest, last4="rrrr")
    assert redact(real) == real
    caplog.set_level(logging.DEBUG)
    for n in range(3):  # spam: unknown tokens take no place in the bounded registry
        wrong = f"cci_{n}" + secrets.token_urlsafe(24)  # random: no other test registered it
        api = APIClient()
        api.credentials(HTTP_AUTHORIZATION=f"Bearer {wrong}")
        assert api.get("/api/v1/live-streams/999999/chat/messages").status_code == 401
        assert integration_token_find(wrong) is None
        assert redact(wrong) == wrong
        # ...and stay out of the logs anyway: headers are never logged, query tokens masked.
        assert wrong not in caplog.text
        assert wrong not in redact_request_line(f"GET /api/v1/ws?token={wrong} HTTP/1.1")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {real}")
    assert api.get("/api/v1/live-streams/999999/chat/messages").status_code == 404
    assert real not in redact(f"with {real} in it")
