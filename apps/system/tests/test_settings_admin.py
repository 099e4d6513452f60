"""The global settings in the admin: the SMTP password is write-only there, as in the API."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from apps.accounts.models import AuditEntry
from apps.system.models import GlobalSettings

pytestmark = pytest.mark.django_db
PASSWORD = "smtp-password-0123456789"


def test_the_smtp_password_is_never_shown_nor_audited_and_empty_keeps_it(admin_user: Any) -> None:
    client = Client()
    client.force_login(admin_user)
    settings = GlobalSettings.objects.create(smtp_password=PASSWORD)
    page = client.get(f"/admin/system/globalsettings/{settings.pk}/change/")
    assert page.status_code == 200 and PASSWORD not in page.content.decode()
    form = {
        name: value
        for name, value in page.context["adminform"].form.initial.items()
        if value is not None and name != "smtp_password"
    }
    saved = client.post(
        f"/admin/system/globalsettings/{settings.pk}/change/",
        {**form, "site_name": "Renamed", "smtp_password": ""},
    )
    assert saved.status_code == 302, saved.content.decode()[:2000]
    settings.refresh_from_db()
    assert (settings.site_name, settings.smtp_password) == ("Renamed", PASSWORD)
    assert PASSWORD not in json.dumps(list(AuditEntry.objects.values_list("changes", flat=True)))
