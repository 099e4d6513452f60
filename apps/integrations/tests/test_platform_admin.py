"""The admin manages platform accounts and metadata; keys and tokens never show there."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from apps.accounts.models import AuditEntry
from apps.integrations.platforms.models import AccountKind, PlatformAccount, PlatformMetadata
from apps.streams.tests.factories import job_with_outputs
from workers.ffmpeg.masking import mask_url

pytestmark = pytest.mark.django_db
KEY = "admin-key-abcdefgh1234"
TOKEN = "at-admin-token-0123456789"


@pytest.fixture
def client(admin_browser: Client) -> Client:
    return admin_browser


def test_an_account_is_added_in_the_admin_and_its_key_never_shown(client: Client) -> None:
    response = client.post(
        "/admin/integrations/platformaccount/add/",
        {"name": "Own", "platform": "custom_rtmp", "kind": "stream_key",
         "ingest_url": "rtmp://127.0.0.1/live", "stream_key": KEY},
    )  # fmt: skip
    assert response.status_code == 302, response.content.decode()[:2000]
    account = PlatformAccount.objects.get()
    assert account.stream_key == KEY
    for page in (
        "/admin/integrations/platformaccount/",
        f"/admin/integrations/platformaccount/{account.pk}/change/",
    ):
        body = client.get(page).content.decode()
        assert KEY not in body
    # Saving the form with the key field empty keeps the stored key.
    client.post(
        f"/admin/integrations/platformaccount/{account.pk}/change/",
        {"name": "Own 2", "platform": "custom_rtmp", "kind": "stream_key",
         "ingest_url": "rtmp://127.0.0.1/live", "stream_key": ""},
    )  # fmt: skip
    account.refresh_from_db()
    assert (account.name, account.stream_key) == ("Own 2", KEY)


def test_tokens_are_not_on_the_admin_pages(client: Client) -> None:
    account = PlatformAccount.objects.create(
        name="YT", platform="youtube", kind=AccountKind.OAUTH, access_token=TOKEN,
        refresh_token=TOKEN + "r",
    )  # fmt: skip
    body = client.get(f"/admin/integrations/platformaccount/{account.pk}/change/").content.decode()
    assert TOKEN not in body


def test_the_admin_revokes_and_lists_metadata(client: Client) -> None:
    account = PlatformAccount.objects.create(
        name="YT", platform="youtube", kind=AccountKind.OAUTH, access_token=TOKEN
    )
    client.post(
        "/admin/integrations/platformaccount/",
        {"action": "revoke_accounts", "_selected_action": [account.pk]},
    )
    account.refresh_from_db()
    assert account.status == "revoked" and account.access_token == ""
    PlatformMetadata.objects.create(job=job_with_outputs({}), platform="youtube", title="T")
    assert client.get("/admin/integrations/platformmetadata/").status_code == 200


def test_an_ingest_url_is_shown_masked_in_the_admin_and_kept_when_saved_as_shown(
    client: Client,
) -> None:
    passphrase = "admin-srt-passphrase-0123"
    url = f"srt://127.0.0.1:9000?streamid=publish/live/admin-streamid-4567&passphrase={passphrase}"
    form = {"name": "SRT", "platform": "custom_srt", "kind": "stream_key", "stream_key": KEY}
    added = client.post("/admin/integrations/platformaccount/add/", {**form, "ingest_url": url})
    assert added.status_code == 302, added.content.decode()[:2000]
    account = PlatformAccount.objects.get()
    page = client.get(f"/admin/integrations/platformaccount/{account.pk}/change/").content.decode()
    assert passphrase not in page and "admin-streamid-4567" not in page
    shown = mask_url(url)
    assert shown in page.replace("&amp;", "&")
    kept = client.post(
        f"/admin/integrations/platformaccount/{account.pk}/change/",
        {**form, "name": "SRT 2", "ingest_url": shown},
    )
    assert kept.status_code == 302, kept.content.decode()[:2000]
    account.refresh_from_db()
    assert (account.name, account.ingest_url) == ("SRT 2", url)
    refused = client.post(
        f"/admin/integrations/platformaccount/{account.pk}/change/",
        {**form, "ingest_url": "srt://127.0.0.1:9000?passphrase=••••0123"},
    )
    assert refused.status_code == 200 and "type the whole URL" in refused.content.decode()
    changed = client.post(
        f"/admin/integrations/platformaccount/{account.pk}/change/",
        {**form, "ingest_url": url + "9"},
    )
    assert changed.status_code == 302
    audit = json.dumps(list(AuditEntry.objects.values_list("changes", flat=True)))
    assert AuditEntry.objects.filter(action="platformaccount.update").count() == 2
    assert passphrase not in audit and "admin-streamid-4567" not in audit and KEY not in audit
    assert "srt://127.0.0.1:9000" in audit  # still says where it points
