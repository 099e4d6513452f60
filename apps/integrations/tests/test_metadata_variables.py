"""Every variable a metadata template can name renders as documented (README "Platforms"):
the job, the stream (a live stream's own for its restream), the date and time in the
instance's time zone, and the channel and its current programme for a channel's job."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.test import override_settings
from django.utils import timezone
from rest_framework.test import APIClient

from apps.channels.models import ChannelPlayer, PlayoutRow
from apps.channels.tests.play_helpers import playing_channel
from apps.streams.live.tests.factories import live_stream
from apps.streams.models import StreamJob
from apps.streams.tests.factories import job_with_outputs

pytestmark = pytest.mark.django_db
TOKYO = ZoneInfo("Asia/Tokyo")


def _render(api: APIClient, job: StreamJob, template: str) -> str:
    response = api.post(
        "/api/v1/metadata/resolve",
        {"job": job.pk, "platform": "youtube", "title": template},
        format="json",
    )
    assert response.status_code == 200, response.json()
    return str(response.json()["title"])


@pytest.fixture
def job() -> StreamJob:
    return job_with_outputs({}, name="Morning show")


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{ job.name }}", "Morning show"),
        ("{{ job.id > 0 }}", "True"),
        # A job of its own is its own stream.
        ("{{ stream.name }}|{{ stream.title }}|{{ stream.slug }}", "Morning show|Morning show|"),
        ("{{ channel is none }} {{ programme is none }}", "True True"),
        ("{{ channel.name | default('no channel') }}", "no channel"),
    ],
)
def test_the_job_and_its_stream(
    viewer_api: APIClient, job: StreamJob, template: str, expected: str
) -> None:
    assert _render(viewer_api, job, template) == expected


@override_settings(TIME_ZONE="Asia/Tokyo")
@pytest.mark.parametrize(
    ("template", "fmt"),
    [
        ("{{ date }}", "%Y-%m-%d"),
        ("{{ time }}", "%H:%M"),
        ("{{ datetime }}", "%Y-%m-%d %H:%M"),
        ("{{ weekday }}", "%A"),
    ],
)
def test_date_and_time_are_in_the_instances_time_zone(
    viewer_api: APIClient, job: StreamJob, template: str, fmt: str
) -> None:
    before = datetime.now(TOKYO)
    rendered = _render(viewer_api, job, template)
    after = datetime.now(TOKYO)
    assert rendered in {before.strftime(fmt), after.strftime(fmt)}  # a minute may turn
    assert _render(viewer_api, job, "{{ timezone }}") == "Asia/Tokyo"


def test_a_live_streams_restream_names_the_live_stream(
    viewer_api: APIClient, operator_user: Any
) -> None:
    stream, _key = live_stream(operator_user, name="Studio A", slug="studio-a", title="Big night")
    rendered = _render(
        viewer_api, stream.job, "{{ stream.name }}|{{ stream.title }}|{{ stream.slug }}"
    )
    assert rendered == "Studio A|Big night|studio-a"
    untitled, _ = live_stream(operator_user, name="Studio B", slug="studio-b")
    assert _render(viewer_api, untitled.job, "{{ stream.title }}") == "Studio B"


@override_settings(TIME_ZONE="Asia/Tokyo")
def test_a_channels_job_names_the_channel_and_the_programme_on_air(
    viewer_api: APIClient,
) -> None:
    channel = playing_channel(number=12, name="Classics", slug="classics")
    job = job_with_outputs({}, name="Classics player")
    ChannelPlayer.objects.create(channel=channel, job=job)
    template = "{{ channel.name }} ({{ channel.number }}, {{ channel.slug }})"
    assert _render(viewer_api, job, template) == "Classics (12, classics)"
    assert _render(viewer_api, job, "{{ programme.title | default('off air') }}") == "off air"
    start = timezone.now().replace(second=0, microsecond=0) - timedelta(minutes=5)
    PlayoutRow.objects.create(
        channel=channel, start=start, end=start + timedelta(hours=1), title="Metropolis"
    )
    rendered = _render(
        viewer_api, job, "{{ programme.title }} {{ programme.start }}-{{ programme.end }}"
    )
    local = start.astimezone(TOKYO)
    assert rendered == (f"Metropolis {local:%H:%M}-{(local + timedelta(hours=1)):%H:%M}")
