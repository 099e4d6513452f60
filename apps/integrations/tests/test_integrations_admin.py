"""The admin pages of webhooks, notifications and access tokens: they render, secrets never
appear in their HTML, a target can be sent a test notification, and access tokens are
issued (shown once) and revoked here."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client
from rest_framework.test import APIClient

from apps.integrations.models import (
    IntegrationToken,
    NotificationMessage,
    NotificationTarget,
    Webhook,
    WebhookDelivery,
)
from apps.integrations.signing import new_secret
from apps.integrations.tests.receiver import Receiver
from apps.integrations.tokens import integration_token_create
from castcore.events import emit
from castcore.outbox.models import OutboxEvent

pytestmark = pytest.mark.django_db
ADMIN = "/admin/integrations"
HOOK_TOKEN = "hook-path-token-0123456789"
NOTIFY_TOKEN = "notify-token-abcdefghijkl"


@pytest.fixture
def client(admin_browser: Client) -> Client:
    return admin_browser


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver().start()
    yield receiver
    receiver.stop()


def _pages(client: Client, model: str, pk: int) -> list[str]:
    pages = []
    for url in (f"{ADMIN}/{model}/", f"{ADMIN}/{model}/{pk}/change/"):
        response = client.get(url)
        assert response.status_code == 200, url
        pages.append(response.content.decode())
    return pages


def test_webhook_pages_render_and_never_show_the_secret_or_the_urls_token(client: Client) -> None:
    secret = new_secret()
    hook = Webhook.objects.create(
        name="Receiver", url=f"https://hooks.example.net/in/{HOOK_TOKEN}", events=["*"],
        secret=secret,
    )  # fmt: skip
    emit("stream_job.failed", {"stream_job_id": 1}, subject="stream_job:1")
    WebhookDelivery.objects.create(webhook=hook, event=OutboxEvent.objects.get())
    delivery = WebhookDelivery.objects.get()
    pages = [
        *_pages(client, "webhook", hook.pk),
        *_pages(client, "webhookdelivery", delivery.pk),
        client.get(f"{ADMIN}/webhook/add/").content.decode(),
    ]
    assert "Receiver" in pages[0] and "hooks.example.net" in pages[1]
    for page in pages:
        assert HOOK_TOKEN not in page
        assert secret not in page and secret.removeprefix("whsec_") not in page


def test_notification_pages_render_and_never_show_the_url(
    client: Client, receiver: Receiver
) -> None:
    target = NotificationTarget.objects.create(
        name="ops", url=f"json://127.0.0.1:{receiver.port}/notify?{NOTIFY_TOKEN}", events=["*"],
        min_level="info",
    )  # fmt: skip
    message = NotificationMessage.objects.create(
        target=target, key="k", event_type="stream_job.failed", level="error", title="Job failed",
        body="b", send_at="2030-01-01T00:00Z",
    )  # fmt: skip
    pages = [
        *_pages(client, "notificationtarget", target.pk),
        *_pages(client, "notificationmessage", message.pk),
    ]
    assert "json://" in pages[0] and "Job failed" in pages[2]
    for page in pages:
        assert NOTIFY_TOKEN not in page and target.url not in page


def test_the_admin_sends_a_test_notification(client: Client, receiver: Receiver) -> None:
    target = NotificationTarget.objects.create(
        name="ops", url=f"json://127.0.0.1:{receiver.port}/notify?{NOTIFY_TOKEN}", events=["*"]
    )
    response = client.post(
        f"{ADMIN}/notificationtarget/",
        {"action": "send_test", "_selected_action": [target.pk]},
        follow=True,
    )
    (got,) = receiver.received
    assert got.json()["title"] == "CastCore: test notification"
    page = response.content.decode()
    assert "Ops: sent" in page  # the admin capitalises messages and NOTIFY_TOKEN not in page
    receiver.stop()
    failed = client.post(
        f"{ADMIN}/notificationtarget/",
        {"action": "send_test", "_selected_action": [target.pk]},
        follow=True,
    ).content.decode()
    assert "Ops: notification.send_failed" in failed


def test_an_access_token_issued_in_the_admin_is_shown_once_and_works(client: Client) -> None:
    assert client.get(f"{ADMIN}/integrationtoken/add/").status_code == 200
    response = client.post(
        f"{ADMIN}/integrationtoken/add/", {"name": "Chat bot", "scopes": ["read", "chat.send"]}
    )
    assert response.status_code == 200, response.content.decode()[:3000]
    assert "no-store" in response["Cache-Control"]
    token = IntegrationToken.objects.get()
    page = response.content.decode()
    raw = page.split('<code id="issued-token">')[1].split("</code>")[0]
    assert raw.startswith("cci_") and raw.endswith(token.last4)
    assert (token.name, sorted(token.scopes)) == ("Chat bot", ["chat.send", "read"])
    assert token.token_hash and raw not in token.token_hash
    # It works, and no page shows it again.
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert api.get("/api/v1/live-streams/999999/chat/messages").status_code == 404
    for page in _pages(client, "integrationtoken", token.pk):
        assert raw not in page and token.token_hash not in page
        assert token.masked in page
    from apps.accounts.models import AuditEntry

    assert AuditEntry.objects.filter(action="integration_token.create").count() == 1


def test_an_access_token_with_a_past_expiry_is_not_issued(client: Client) -> None:
    response = client.post(
        f"{ADMIN}/integrationtoken/add/",
        {"name": "x", "scopes": ["read"], "expires_at_0": "2001-01-01", "expires_at_1": "00:00"},
    )
    assert response.status_code == 200 and "must be in the future" in response.content.decode()
    assert not IntegrationToken.objects.exists()


def test_the_admin_revokes_an_access_token(client: Client, admin_user: Any) -> None:
    issued = integration_token_create(actor=admin_user, name="bot", scopes=["read"])
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {issued.raw}")
    url = "/api/v1/live-streams/999999/chat/messages"
    assert api.get(url).status_code == 404
    client.post(
        f"{ADMIN}/integrationtoken/",
        {"action": "revoke", "_selected_action": [issued.token.pk]},
    )
    issued.token.refresh_from_db()
    assert issued.token.revoked_at is not None
    assert api.get(url).status_code == 401


def test_the_admin_changes_a_tokens_scopes_and_the_token_stays(
    client: Client, admin_user: Any
) -> None:
    issued = integration_token_create(actor=admin_user, name="bot", scopes=["read"])
    response = client.post(
        f"{ADMIN}/integrationtoken/{issued.token.pk}/change/",
        {"name": "bot", "scopes": ["read", "chat.moderate"]},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    token = IntegrationToken.objects.get()
    assert sorted(token.scopes) == ["chat.moderate", "read"]
    assert token.token_hash == issued.token.token_hash and token.revoked_at is None


def test_the_admin_adds_an_email_target_through_the_smtp_settings_and_refuses_a_non_url(
    client: Client,
) -> None:
    form = {
        "name": "Mail",
        "events": '["stream_job.failed"]',
        "min_level": "warning",
        "active": "on",
    }
    refused = client.post(f"{ADMIN}/notificationtarget/add/", {**form, "url": "not a url"})
    assert refused.status_code == 200 and "not an apprise URL" in refused.content.decode()
    added = client.post(
        f"{ADMIN}/notificationtarget/add/", {**form, "url": "mailto:ops@example.org"}
    )
    assert added.status_code == 302, added.content.decode()[:2000]
    assert NotificationTarget.objects.get(name="Mail").url == "mailto:ops@example.org"


def _audited_changes() -> str:
    from apps.accounts.models import AuditEntry

    return json.dumps(list(AuditEntry.objects.values_list("changes", flat=True)))


def test_admin_edits_of_a_webhook_audit_its_url_as_the_api_shows_it(client: Client) -> None:
    form = {"name": "Receiver", "events": '["*"]', "secret": "", "active": "on"}
    added = client.post(
        f"{ADMIN}/webhook/add/", {**form, "url": f"http://127.0.0.1:9/in/{HOOK_TOKEN}"}
    )
    assert added.status_code == 302, added.content.decode()[:2000]
    hook = Webhook.objects.get()
    changed = client.post(
        f"{ADMIN}/webhook/{hook.pk}/change/",
        {**form, "url": f"http://127.0.0.1:9/in?token={HOOK_TOKEN}x"},
    )
    assert changed.status_code == 302, changed.content.decode()[:2000]
    assert Webhook.objects.get().url.endswith(f"{HOOK_TOKEN}x")
    audit = _audited_changes()
    assert audit.count("http://127.0.0.1:9/\\u2022\\u2022\\u2022\\u2022") >= 2  # shown_url
    assert HOOK_TOKEN not in audit and hook.secret not in audit


def test_admin_edits_of_a_notification_target_audit_its_url_masked(client: Client) -> None:
    form = {"name": "ops", "events": '["*"]', "min_level": "warning", "active": "on"}
    url = f"json://127.0.0.1:9/notify?{NOTIFY_TOKEN}"
    added = client.post(f"{ADMIN}/notificationtarget/add/", {**form, "url": url})
    assert added.status_code == 302, added.content.decode()[:2000]
    target = NotificationTarget.objects.get()
    changed = client.post(
        f"{ADMIN}/notificationtarget/{target.pk}/change/", {**form, "url": url + "2"}
    )
    assert changed.status_code == 302, changed.content.decode()[:2000]
    assert NotificationTarget.objects.get().url == url + "2"
    audit = _audited_changes()
    assert NOTIFY_TOKEN not in audit and "json://\\u2022\\u2022\\u2022\\u2022" in audit


def test_deliver_again_reports_a_refused_delivery_instead_of_failing(client: Client) -> None:
    hook = Webhook.objects.create(
        name="Off", url="http://127.0.0.1:9/", events=["*"], secret=new_secret(), active=False
    )
    emit("stream_job.failed", {"stream_job_id": 1}, subject="stream_job:1")
    delivery = WebhookDelivery.objects.create(
        webhook=hook, event=OutboxEvent.objects.get(), state="failed"
    )
    response = client.post(
        f"{ADMIN}/webhookdelivery/",
        {"action": "redeliver", "_selected_action": [delivery.pk]},
        follow=True,
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "webhook_delivery.webhook_inactive" in page and "0 queued" in page
    assert WebhookDelivery.objects.get().state == "failed"
