"""The channels admin: every page opens; writes go through the services and their checks."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from apps.accounts.models import AuditEntry
from apps.channels.models import Channel

pytestmark = pytest.mark.django_db

MODELS = ("playlist", "channel", "scheduleblock", "playoutrow", "scheduledaction", "replay")


@pytest.fixture
def admin_client_(admin_user: Any) -> Client:
    client = Client()
    client.force_login(admin_user)
    return client


def test_every_model_has_an_admin_page(admin_client_: Client) -> None:
    channel = Channel.objects.create(number=1, name="One", slug="one")
    for model in MODELS:
        assert admin_client_.get(f"/admin/castcore_channels/{model}/").status_code == 200, model
    for model in ("playlist", "channel", "scheduleblock", "scheduledaction", "replay"):
        assert admin_client_.get(f"/admin/castcore_channels/{model}/add/").status_code == 200
    # By its pk: PostgreSQL's sequences do not restart with each test.
    assert (
        admin_client_.get(f"/admin/castcore_channels/channel/{channel.pk}/change/").status_code
        == 200
    )


def _add_channel(client: Client, **fields: Any) -> Any:
    body = {
        "number": 4, "name": "Four", "slug": "four", "time_zone": "Europe/Paris",
        "visibility": "public", "mode": "always_on", "enabled": "on", "group": "",
        "outputs-TOTAL_FORMS": "0", "outputs-INITIAL_FORMS": "0", **fields,
    }  # fmt: skip
    return client.post("/admin/castcore_channels/channel/add/", body)


def test_a_channel_added_in_the_admin_is_checked_and_audited(admin_client_: Client) -> None:
    response = _add_channel(admin_client_, time_zone="Nowhere/Atlantis")
    assert response.status_code == 200 and b"channel.invalid_time_zone" in response.content
    assert not Channel.objects.exists()
    response = _add_channel(admin_client_)
    assert response.status_code == 302, response.content[:2000]
    assert Channel.objects.get().time_zone == "Europe/Paris"
    assert AuditEntry.objects.filter(action="channel.create").exists()
    response = _add_channel(admin_client_, slug="other")
    assert response.status_code == 200 and b"channel.number_taken" in response.content


def _split(at: Any) -> dict[str, str]:
    """A date-time as the admin's split widget posts it (the server's zone: UTC here)."""
    return {"0": at.strftime("%Y-%m-%d"), "1": at.strftime("%H:%M:%S")}


def _action_form(**fields: Any) -> dict[str, Any]:
    from datetime import timedelta

    from django.utils import timezone

    starts = _split(fields.pop("starts_at", timezone.now() + timedelta(days=1)))
    return {
        "name": "Nightly", "kind": "channel.start", "starts_at_0": starts["0"],
        "starts_at_1": starts["1"], "timezone": "Europe/Paris", "rule": "FREQ=DAILY",
        "missed_policy": "skip", "enabled": "on",
        "runs-TOTAL_FORMS": "0", "runs-INITIAL_FORMS": "0", **fields,
    }  # fmt: skip


def test_scheduled_actions_are_edited_in_the_admin_through_the_service(
    admin_client_: Client,
) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from apps.channels.scheduling.models import ScheduledAction

    channel = Channel.objects.create(number=1, name="One", slug="one")
    url = "/admin/castcore_channels/scheduledaction/"
    bad: list[tuple[dict[str, Any], bytes]] = [
        ({"rule": "FREQ=SECONDLY"}, b"scheduler.invalid_frequency"),
        ({"rule": "FREQ=DAILY;BYHOUR=99"}, b"scheduler.invalid_rule"),
        ({"timezone": "Mars/Olympus"}, b"scheduler.invalid_timezone"),
        ({}, b"validation.required"),  # channel.start without a channel
        ({"rule": "", "starts_at": timezone.now() - timedelta(hours=1)},
         b"scheduler.starts_in_past"),
    ]  # fmt: skip
    for fields, code in bad:
        form = _action_form(**({"channel": channel.pk} if fields else {}), **fields)
        response = admin_client_.post(f"{url}add/", form)
        assert response.status_code == 200 and code in response.content, (fields, code)
    assert not ScheduledAction.objects.exists(), "a refused form writes nothing"

    response = admin_client_.post(f"{url}add/", _action_form(channel=channel.pk))
    assert response.status_code == 302, response.content[:3000]
    action = ScheduledAction.objects.get()
    assert action.next_run_at is not None and action.owner is not None  # the service's work
    assert AuditEntry.objects.filter(action="scheduled_action.create").exists()
    assert admin_client_.get(f"{url}{action.pk}/change/").status_code == 200

    later = timezone.now() + timedelta(days=3)
    form = _action_form(channel=channel.pk, rule="", starts_at=later)
    response = admin_client_.post(f"{url}{action.pk}/change/", form)
    assert response.status_code == 302, response.content[:3000]
    action.refresh_from_db()
    assert action.rule == "" and action.next_run_at == later.replace(microsecond=0)
    assert AuditEntry.objects.filter(action="scheduled_action.update").exists()

    response = admin_client_.post(f"{url}{action.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302 and not ScheduledAction.objects.exists()
    assert AuditEntry.objects.filter(action="scheduled_action.delete").exists()


def test_replays_are_edited_in_the_admin_through_the_service(admin_client_: Client) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from apps.channels.replays.models import Replay
    from apps.channels.tests.factories import a_replay, a_video
    from apps.recordings.models import Recording, Visibility

    channel = Channel.objects.create(number=1, name="One", slug="one", time_zone="Asia/Tokyo")
    url = "/admin/castcore_channels/replay/"
    unfinished = a_video(status=Recording.Status.STARTED)
    base = {"title": "", "description": "d", "visibility": "public", "publish": "on"}
    response = admin_client_.post(f"{url}add/", {**base, "recording": unfinished.pk})
    assert b"replay.recording_not_finished" in response.content
    recording = a_video(duration=600.0, visibility=Visibility.PRIVATE, title="Match")
    at = timezone.now() + timedelta(days=1)
    half = {"reair_channel": channel.pk}
    response = admin_client_.post(f"{url}add/", {**base, "recording": recording.pk, **half})
    assert b"replay.reair_incomplete" in response.content
    busy = a_replay(reair_channel=channel, reair_at=at, recording=a_video(duration=600.0))
    clash = {"reair_channel": channel.pk, **{f"reair_at_{k}": v for k, v in _split(at).items()}}
    response = admin_client_.post(f"{url}add/", {**base, "recording": recording.pk, **clash})
    assert b"replay.reair_overlaps" in response.content
    assert Replay.objects.count() == 1, "a refused form writes nothing"

    later = at + timedelta(hours=2)
    fields = {"reair_channel": channel.pk, **{f"reair_at_{k}": v for k, v in _split(later).items()}}
    response = admin_client_.post(f"{url}add/", {**base, "recording": recording.pk, **fields})
    assert response.status_code == 302, response.content[:3000]
    replay = Replay.objects.get(recording=recording)
    assert replay.title == "Match" and replay.reair_at == later.replace(microsecond=0)
    recording.refresh_from_db()
    assert recording.visibility == Visibility.UNLISTED  # the service opened its page
    assert AuditEntry.objects.filter(action="replay.create").exists()

    change = {"title": "Renamed", "description": "", "visibility": "public",
              "reair_channel": "", "reair_at_0": "", "reair_at_1": ""}  # fmt: skip
    response = admin_client_.post(f"{url}{replay.pk}/change/", change)
    assert response.status_code == 302, response.content[:3000]
    replay.refresh_from_db()
    assert (replay.title, replay.reair_channel, replay.reair_at) == ("Renamed", None, None)
    response = admin_client_.post(f"{url}{replay.pk}/change/", {**change, "title": ""})
    assert response.status_code == 200 and b"validation.blank" in response.content

    response = admin_client_.post(
        url, {"action": "delete_selected", "_selected_action": [busy.pk, replay.pk], "post": "yes"}
    )
    assert response.status_code == 302 and not Replay.objects.exists()
    assert AuditEntry.objects.filter(action="replay.delete").count() == 2
    assert Recording.objects.filter(pk=recording.pk).exists()  # the recording stays
