"""viewersOverTime, hardwarestats and yp/reset: Owncast's shapes with the stream's own data."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core.cache import cache
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from apps.owncast.admin import hardware
from apps.owncast.tests.admin_client import Admin, basic
from apps.streams.models import ViewerSample

pytestmark = pytest.mark.django_db


def test_viewers_over_time_lists_the_streams_samples_of_the_last_day(
    streams: dict[str, Any],
) -> None:
    now = timezone.now()
    ViewerSample.objects.create(stream=streams["red"], at=now - timedelta(hours=2), count=3)
    ViewerSample.objects.create(stream=streams["red"], at=now - timedelta(minutes=5), count=7)
    ViewerSample.objects.create(stream=streams["red"], at=now - timedelta(days=2), count=99)
    ViewerSample.objects.create(stream=streams["blue"], at=now, count=5)
    answer = Admin("red", basic(streams["red_key"])).get("viewersOverTime").json()
    assert [item["value"] for item in answer] == [3, 7]  # oldest first, red's only, a day
    assert all(set(item) == {"time", "value"} for item in answer)
    first = parse_datetime(answer[0]["time"])
    assert answer[0]["time"].endswith("Z") and first is not None
    assert abs((first - (now - timedelta(hours=2))).total_seconds()) < 1


def test_hardware_stats_are_cpu_memory_and_disk_series(streams: dict[str, Any]) -> None:
    cache.delete(hardware.CACHE_KEY)
    red = Admin("red", basic(streams["red_key"]))
    for _ in range(2):  # a second call within the minute updates the last sample
        answer = red.get("hardwarestats").json()
        assert set(answer) == {"cpu", "memory", "disk"}
        for series in answer.values():
            assert len(series) == 1
            assert set(series[0]) == {"time", "value"}
            assert isinstance(series[0]["value"], int) and 0 <= series[0]["value"] <= 100
            assert parse_datetime(series[0]["time"]) is not None


def test_yp_reset_answers_success(streams: dict[str, Any]) -> None:
    response = Admin("red", basic(streams["red_key"])).post("yp/reset", {})
    assert response.status_code == 200
    assert response.json()["success"] is True and isinstance(response.json()["message"], str)


def test_stats_need_the_streams_key(streams: dict[str, Any]) -> None:
    blue_key_on_red = Admin("red", basic(streams["blue_key"]))
    assert blue_key_on_red.get("viewersOverTime").status_code == 401
    assert blue_key_on_red.post("yp/reset", {}).status_code == 401
