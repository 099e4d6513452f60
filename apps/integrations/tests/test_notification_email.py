"""E-mail targets through the instance's SMTP settings, against a real SMTP server on loopback."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword

from apps.integrations.models import NotificationMessage, NotificationTarget
from apps.integrations.notify import message_send
from apps.integrations.outbox import outbox_dispatch
from apps.integrations.tests.receiver import free_port
from castcore.events import emit
from castcore.outbox.models import OutboxEvent

pytestmark = pytest.mark.django_db

USER, PASSWORD = "castcore", "smtp-pass-abcdef123456"


@dataclass
class Mailbox:
    """What the SMTP server was given: envelopes, and the logins it accepted."""

    envelopes: list[Envelope] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Envelope) -> str:
        self.envelopes.append(envelope)
        return "250 OK"

    def authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
            USER.encode(), PASSWORD.encode(),
        )  # fmt: skip
        if ok:
            self.logins.append(data.login.decode())
        return AuthResult(success=ok)


@pytest.fixture
def smtp(settings: Any) -> Iterator[Mailbox]:
    mailbox = Mailbox()
    port = free_port()
    controller = Controller(
        mailbox, hostname="127.0.0.1", port=port, authenticator=mailbox.authenticate,
        auth_require_tls=False,
    )  # fmt: skip
    controller.start()
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    settings.EMAIL_HOST_USER, settings.EMAIL_HOST_PASSWORD = USER, PASSWORD
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.DEFAULT_FROM_EMAIL = "castcore@example.net"
    yield mailbox
    controller.stop()


def test_an_email_target_sends_through_the_smtp_settings(
    smtp: Mailbox, admin_api: Any, caplog: pytest.LogCaptureFixture
) -> None:
    created = admin_api.post(
        "/api/v1/notifications",
        {"name": "ops", "url": "mailto:ops@example.org,oncall@example.org", "events": ["*"],
         "min_level": "info"},
        format="json",
    )  # fmt: skip
    assert created.status_code == 201, created.json()
    emit("stream_job.failed", {"stream_job_id": 7}, subject="stream_job:7")
    ((message_id, _),) = outbox_dispatch(event_id=OutboxEvent.objects.get().pk).messages
    with caplog.at_level(logging.DEBUG):
        assert message_send(message_id=message_id) is None
    assert NotificationMessage.objects.get().state == "sent"
    # apprise sends one mail per recipient.
    recipients = sorted(to for envelope in smtp.envelopes for to in envelope.rcpt_tos)
    assert recipients == ["oncall@example.org", "ops@example.org"]
    for envelope in smtp.envelopes:
        assert envelope.mail_from == "castcore@example.net"
        mail = message_from_bytes(envelope.original_content or b"")
        assert mail["Subject"] == "CastCore: stream_job.failed (stream_job:7)"
    assert set(smtp.logins) == {USER}  # logged in with the settings' account
    assert PASSWORD not in caplog.text  # apprise logs the URL it built: masked
    assert PASSWORD not in str(NotificationTarget.objects.values_list("url", flat=True))


def test_the_test_endpoint_reports_a_refused_login(
    smtp: Mailbox, admin_api: Any, settings: Any
) -> None:
    settings.EMAIL_HOST_PASSWORD = "wrong-password-1234567"
    target = NotificationTarget.objects.create(name="ops", url="mailto:ops@example.org")
    response = admin_api.post(f"/api/v1/notifications/{target.pk}/test")
    assert response.json() == {"ok": False, "error_code": "notification.send_failed"}
    assert smtp.envelopes == []


@pytest.mark.parametrize("url", ["mailto:", "mailto:not-an-address", "mailto:a@example.org,b"])
def test_an_email_target_without_valid_addresses_is_refused(admin_api: Any, url: str) -> None:
    response = admin_api.post(
        "/api/v1/notifications", {"name": "x", "url": url, "events": ["*"]}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["error"]["params"]["field"] == "url"
    assert "notification.url_invalid" in str(response.json())


def test_the_admins_global_smtp_settings_win_over_the_environments(
    smtp: Mailbox, admin_api: Any, settings: Any
) -> None:
    from apps.system.models import GlobalSettings

    port = settings.EMAIL_PORT
    # The environment names a server that is not there; the admin's settings the real one.
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", free_port()
    config = GlobalSettings.load()
    config.smtp_host, config.smtp_port = "127.0.0.1", port
    config.smtp_username, config.smtp_password = USER, PASSWORD
    config.smtp_from = "admin-set@example.net"
    config.save()
    target = NotificationTarget.objects.create(name="ops", url="mailto:ops@example.org")
    with pytest.MonkeyPatch.context() as patch:
        # aiosmtpd on loopback speaks no TLS: send as the environment's plain mode would.
        from apps.integrations import mail

        server = mail.smtp_server()
        assert (server.host, server.port, server.sender) == (
            "127.0.0.1",
            port,
            "admin-set@example.net",
        )
        patch.setattr(
            mail, "smtp_server", lambda: mail.Smtp(**{**server.__dict__, "mode": "insecure"})
        )
        response = admin_api.post(f"/api/v1/notifications/{target.pk}/test")
    assert response.json() == {"ok": True, "error_code": ""}, response.json()
    assert [envelope.mail_from for envelope in smtp.envelopes] == ["admin-set@example.net"]
    assert set(smtp.logins) == {USER}
