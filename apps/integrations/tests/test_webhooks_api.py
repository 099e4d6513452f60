from __future__ import annotations

from typing import Any

import pytest

from apps.accounts.models import AuditEntry
from apps.integrations.models import Webhook, WebhookDelivery
from apps.integrations.signing import new_secret
from castcore.events import emit
from castcore.outbox.models import OutboxEvent

pytestmark = pytest.mark.django_db


def test_operators_cannot_read_or_write_webhooks(operator_api: Any) -> None:
    assert operator_api.get("/api/v1/webhooks").status_code == 403
    assert operator_api.post("/api/v1/webhooks", {}).status_code == 403
    assert operator_api.get("/api/v1/webhook-deliveries").status_code == 403


def test_a_secret_left_out_is_made_and_shown_once(admin_api: Any) -> None:
    body = {"name": "ci", "url": "https://hooks.example.org/in", "events": ["stream_job.failed"]}
    created = admin_api.post("/api/v1/webhooks", body)
    assert created.status_code == 201, created.json()
    secret = created.json()["secret"]
    assert secret.startswith("whsec_") and Webhook.objects.get().secret == secret
    shown = admin_api.get(f"/api/v1/webhooks/{created.json()['id']}").json()
    assert shown["secret"] == "••••" + secret[-4:]
    assert secret not in str(admin_api.get("/api/v1/webhooks").json())
    entry = AuditEntry.objects.get(action="webhook.create")
    assert secret not in str(entry.changes)


def test_a_given_secret_is_write_only(admin_api: Any) -> None:
    secret = new_secret()
    body = {"name": "a", "url": "http://127.0.0.1:9/x", "events": ["*"], "secret": secret}
    created = admin_api.post("/api/v1/webhooks", body).json()
    assert created["secret"] == "••••" + secret[-4:]
    # Sending the masked value back keeps the secret.
    admin_api.patch(f"/api/v1/webhooks/{created['id']}", {"secret": created["secret"]})
    assert Webhook.objects.get().secret == secret


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("http://169.254.169.254/latest", "webhook.address_not_allowed"),
        ("http://2852039166/", "webhook.address_not_allowed"),
        ("http://metadata.google.internal/", "webhook.address_not_allowed"),
        ("ftp://example.org/", "webhook.url_invalid"),
        ("http://user:pw@example.org/", "webhook.url_invalid"),
        ("http://exa mple.com/", "webhook.url_invalid"),
        ("http://-bad-.example.org/", "webhook.url_invalid"),
        ("http://a..b.example.org/", "webhook.url_invalid"),
    ],
)
def test_a_url_the_policy_refuses_is_a_400(admin_api: Any, url: str, code: str) -> None:
    response = admin_api.post("/api/v1/webhooks", {"name": "x", "url": url, "events": ["*"]})
    assert response.status_code == 400
    assert code in str(response.json()["error"])
    assert not Webhook.objects.exists()


def test_unknown_events_and_bad_secrets_are_refused(admin_api: Any) -> None:
    body = {"name": "x", "url": "http://127.0.0.1:9/", "events": ["stream_job.exploded"]}
    response = admin_api.post("/api/v1/webhooks", body)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation.invalid_choice"
    assert "stream_job.failed" in response.json()["error"]["params"]["allowed"]
    body = {"name": "x", "url": "http://127.0.0.1:9/", "events": ["*"], "secret": "hunter22"}
    response = admin_api.post("/api/v1/webhooks", body)
    assert response.status_code == 400 and "webhook.secret_invalid" in str(response.json())
    assert "hunter22" not in str(response.json())


def test_deliveries_are_listed_per_webhook_and_can_be_sent_again(
    admin_api: Any, django_capture_on_commit_callbacks: Any
) -> None:
    hook = Webhook.objects.create(
        name="h", url="http://127.0.0.1:9/", secret=new_secret(), events=["*"]
    )
    emit("recording.ready", {"recording_id": 3})
    event = OutboxEvent.objects.get()
    delivery = WebhookDelivery.objects.create(
        webhook=hook, event=event, state="failed", attempts=7, error_code="webhook.connect_failed"
    )
    listed = admin_api.get(f"/api/v1/webhook-deliveries?webhook={hook.pk}").json()
    assert listed["total"] == 1
    item = listed["items"][0]
    assert (item["event_id"], item["event_type"], item["state"]) == (
        event.message_id,
        "recording.ready",
        "failed",
    )
    with django_capture_on_commit_callbacks() as callbacks:
        response = admin_api.post(f"/api/v1/webhook-deliveries/{delivery.pk}/redeliver")
    assert response.status_code == 202 and response.json()["state"] == "pending"
    assert len(callbacks) == 1  # the attempt is queued after commit
    assert AuditEntry.objects.filter(action="webhook_delivery.redeliver").exists()


def test_switching_a_webhook_on_again_clears_its_failure_count(admin_api: Any) -> None:
    hook = Webhook.objects.create(
        name="h", url="http://127.0.0.1:9/", secret=new_secret(), events=["*"], active=False,
        disabled_reason="webhook.failing", consecutive_failures=40,
    )  # fmt: skip
    body = admin_api.patch(f"/api/v1/webhooks/{hook.pk}", {"active": True}).json()
    assert (body["active"], body["disabled_reason"], body["consecutive_failures"]) == (True, "", 0)


def test_a_token_in_the_url_is_stored_encrypted_and_shown_as_its_host_only(
    admin_api: Any,
) -> None:
    from django.db import connection

    url = "https://hooks.example.org/in?token=tok-abcdefghijkl"
    created = admin_api.post("/api/v1/webhooks", {"name": "t", "url": url, "events": ["*"]})
    assert created.status_code == 201
    assert created.json()["url"] == "https://hooks.example.org/••••"
    with connection.cursor() as cursor:
        cursor.execute("SELECT url FROM integrations_webhook")
        assert "tok-abcdefghijkl" not in cursor.fetchone()[0]
    # The masked URL sent back keeps the stored one.
    hook_id = created.json()["id"]
    admin_api.patch(f"/api/v1/webhooks/{hook_id}", {"url": created.json()["url"], "name": "u"})
    assert Webhook.objects.get().url == url
    entries = AuditEntry.objects.filter(action__startswith="webhook.")
    assert entries.count() == 2 and "tok-abcdefghijkl" not in str([e.changes for e in entries])


@pytest.mark.parametrize(
    "url",
    [
        "https://hooks.slack.com/services/T0SECRET1/B0SECRET2/abcdefSECRETtoken",
        "https://discord.com/api/webhooks/123/SECRETtoken-abcdef",
        "https://[2001:db8::1]:8443/SECRETpath",
    ],
)
def test_a_token_in_the_path_is_never_shown_nor_audited(admin_api: Any, url: str) -> None:
    created = admin_api.post("/api/v1/webhooks", {"name": "p", "url": url, "events": ["*"]})
    assert created.status_code == 201, created.json()
    listed = admin_api.get("/api/v1/webhooks").content.decode()
    audit = str([e.changes for e in AuditEntry.objects.filter(action__startswith="webhook.")])
    for shown in (created.content.decode(), listed, audit):
        assert "SECRET" not in shown
    assert created.json()["url"].endswith("/••••")


def test_the_admin_never_shows_the_url_and_checks_a_new_one(admin_user: Any) -> None:
    from django.test import Client

    client = Client()
    client.force_login(admin_user)
    hook = Webhook.objects.create(
        name="w", url="https://hooks.example.org/p/SECRETtoken", events=["*"], secret=new_secret()
    )
    page = client.get(f"/admin/integrations/webhook/{hook.pk}/change/").content.decode()
    assert "SECRETtoken" not in page and "https://hooks.example.org/" in page
    form = {"name": "w2", "url": "", "events": '["*"]', "secret": "", "active": "on"}
    response = client.post(f"/admin/integrations/webhook/{hook.pk}/change/", form)
    assert response.status_code == 302  # empty keeps the stored URL
    hook.refresh_from_db()
    assert (hook.name, hook.url) == ("w2", "https://hooks.example.org/p/SECRETtoken")
    for refused in ("http://169.254.169.254/latest", "ftp://user:pw@example.org/x"):
        form = {**form, "url": refused}
        response = client.post(f"/admin/integrations/webhook/{hook.pk}/change/", form)
        assert response.status_code == 200  # the form again, with the error
        hook.refresh_from_db()
        assert hook.url == "https://hooks.example.org/p/SECRETtoken"


def test_redelivery_to_a_switched_off_webhook_is_refused_with_a_conflict(
    admin_api: Any, django_capture_on_commit_callbacks: Any
) -> None:
    hook = Webhook.objects.create(
        name="h", url="http://127.0.0.1:9/", secret=new_secret(), events=["*"], active=False,
        disabled_reason="webhook.failing",
    )  # fmt: skip
    emit("recording.ready", {"recording_id": 3})
    delivery = WebhookDelivery.objects.create(
        webhook=hook, event=OutboxEvent.objects.get(), state="failed", attempts=7
    )
    with django_capture_on_commit_callbacks() as callbacks:
        response = admin_api.post(f"/api/v1/webhook-deliveries/{delivery.pk}/redeliver")
    assert response.status_code == 409
    assert response.json() == {
        "error": {
            "code": "webhook_delivery.webhook_inactive",
            "params": {"webhook_id": hook.pk},
            "level": "error",
        }
    }
    assert callbacks == []  # nothing queued
    assert WebhookDelivery.objects.get().state == "failed"  # and nothing changed
    assert not AuditEntry.objects.filter(action="webhook_delivery.redeliver").exists()
    # Switched on again, the same delivery goes.
    admin_api.patch(f"/api/v1/webhooks/{hook.pk}", {"active": True})
    response = admin_api.post(f"/api/v1/webhook-deliveries/{delivery.pk}/redeliver")
    assert response.status_code == 202 and response.json()["state"] == "pending"


def test_redelivery_of_an_attempt_under_way_is_refused_with_a_conflict(admin_api: Any) -> None:
    hook = Webhook.objects.create(name="h", url="http://127.0.0.1:9/", secret=new_secret())
    emit("recording.ready", {"recording_id": 3})
    delivery = WebhookDelivery.objects.create(
        webhook=hook, event=OutboxEvent.objects.get(), state="sending"
    )
    response = admin_api.post(f"/api/v1/webhook-deliveries/{delivery.pk}/redeliver")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "webhook_delivery.sending"


def test_host_names_are_checked_in_their_idna_form() -> None:
    from apps.integrations.http import url_problem

    assert url_problem("http://bücher.example/in") is None
    assert url_problem("https://[2001:db8::1]:8443/in") is None
    assert url_problem("http://hook_service:8080/in") is None  # container names
    assert url_problem("http://exa mple.com/") == "not a valid host name"
