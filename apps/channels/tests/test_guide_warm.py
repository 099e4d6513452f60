"""The worker renders the guide after a compile and before each hour, so readers never do."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, time, timedelta
from typing import Any

import pytest
from django.core.cache import cache
from django.db import connection
from django.utils import timezone

from apps.channels import feeds
from apps.channels.models import BlockMode, Channel, ItemKind, Playlist, PlaylistItem, ScheduleBlock
from apps.channels.services.guide import guide_warm
from apps.channels.services.playout import playout_extend, playout_rebuild
from apps.channels.tests.conftest import ClipLibrary, fragment_keys
from workers.channels import warm_channel_guides, warm_guides

pytestmark = pytest.mark.django_db


@pytest.fixture
def channels(clip_library: ClipLibrary) -> list[Channel]:
    """Two channels in different zones, each with a schedule and no rows yet."""
    news = Playlist.objects.create(name="News")
    PlaylistItem.objects.create(
        playlist=news, kind=ItemKind.FOLDER, source=clip_library.source, folder="Morning News"
    )
    made = [
        Channel.objects.create(number=1, name="Paris", slug="paris", time_zone="Europe/Paris"),
        Channel.objects.create(number=2, name="NY", slug="ny", time_zone="America/New_York"),
    ]
    for channel in made:
        for hour in (0, 12):
            ScheduleBlock.objects.create(
                channel=channel, playlist=news, start_time=time(hour),
                mode=BlockMode.DURATION, duration=5 * 3600,
            )  # fmt: skip
    return made


def _guide(at: datetime | None = None) -> str:
    listed = feeds.guide_channels(None, Channel.objects.order_by("number"))
    return "".join(feeds.guide_chunks(listed, *feeds.guide_window(at)))


def _compile(channel: Channel, capture: Callable[..., Any], **kwargs: Any) -> int:
    """A compile, and the warm it asks for after its commit, run as the worker runs it."""
    with capture() as callbacks:
        playout_rebuild(channel=channel, horizon=timedelta(days=2), **kwargs)
    assert len(callbacks) == 1, "the compile asks for a warm after its commit"
    warm_channel_guides([channel.pk])
    return len(callbacks)


def test_after_a_compile_the_first_guide_read_renders_nothing(
    channels: list[Channel],
    renders: list[int],
    api: Any,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    for channel in channels:
        _compile(channel, django_capture_on_commit_callbacks)
    assert sum(renders) >= 2  # by the warm, one channel a task
    renders.clear()
    response = api.get("/epg.xml")
    warm = b"".join(response.streaming_content)
    assert renders == [], "the first read found every channel's programmes rendered"
    cache.clear()
    cold = b"".join(api.get("/epg.xml").streaming_content)
    assert renders == [2]
    assert warm == cold and b"<programme" in warm


def test_a_recompile_is_warmed_again(
    channels: list[Channel],
    renders: list[int],
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    paris = channels[0]
    _compile(paris, django_capture_on_commit_callbacks)
    before = _guide()
    ScheduleBlock.objects.filter(channel=paris, start_time=time(12)).update(start_time=time(14))
    _compile(paris, django_capture_on_commit_callbacks)
    renders.clear()
    after = _guide()
    assert renders == [], "the rebuilt channel's programmes were rendered by the warm"
    assert after != before
    cache.clear()
    assert _guide() == after


def test_a_recompile_deletes_the_programmes_it_replaced(
    channels: list[Channel], django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    paris = channels[0]
    _compile(paris, django_capture_on_commit_callbacks)
    [before] = fragment_keys(paris)
    assert cache.has_key(before)
    ScheduleBlock.objects.filter(channel=paris, start_time=time(12)).update(start_time=time(14))
    _compile(paris, django_capture_on_commit_callbacks)
    [after] = fragment_keys(paris)
    assert after != before and cache.has_key(after)
    assert not cache.has_key(before), "the replaced programmes do not wait to expire"


def test_the_next_hour_is_warm_before_it_starts(
    channels: list[Channel], renders: list[int]
) -> None:
    for channel in channels:
        playout_rebuild(channel=channel, horizon=timedelta(days=2))
    next_hour = timezone.now().replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    # Half an hour before: only this hour's window is rendered.
    assert guide_warm(now=next_hour - timedelta(minutes=30)) == 2
    assert guide_warm(now=next_hour - timedelta(minutes=30)) == 0  # nothing missing: no render
    # Shortly before: the next hour's too, for every channel, in one rendering.
    renders.clear()
    assert guide_warm(now=next_hour - timedelta(minutes=5)) == 2
    assert renders == [2]
    renders.clear()
    warm = _guide(next_hour)
    assert renders == [], "the hour's change found the guide warm"
    cache.clear()
    assert _guide(next_hour) == warm


def test_programmes_of_an_hour_that_is_over_are_deleted_with_the_next_compile(
    channels: list[Channel],
) -> None:
    paris = channels[0]
    playout_rebuild(channel=paris, horizon=timedelta(days=2))
    next_hour = timezone.now().replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    guide_warm(channel_ids=[paris.pk], now=next_hour - timedelta(minutes=5))
    [this_hour] = fragment_keys(paris)
    [following] = fragment_keys(paris, next_hour)
    assert cache.has_key(this_hour) and cache.has_key(following)
    ScheduleBlock.objects.filter(channel=paris, start_time=time(12)).update(start_time=time(14))
    playout_rebuild(channel=paris, horizon=timedelta(days=2))
    assert guide_warm(channel_ids=[paris.pk], now=next_hour + timedelta(minutes=10)) == 1
    assert not cache.has_key(this_hour), "its hour is over"
    assert not cache.has_key(following), "replaced by the compile"
    assert all(cache.has_key(key) for key in fragment_keys(paris, next_hour))


def test_the_periodic_task_warms_every_channel_and_then_nothing(
    channels: list[Channel], renders: list[int]
) -> None:
    for channel in channels:
        playout_rebuild(channel=channel, horizon=timedelta(days=2))
    warm_guides()
    assert renders in ([2], [2, 2])  # this hour's window, and the next one's when it is near
    renders.clear()
    warm_guides()
    assert renders == []
    _guide()
    assert renders == []


def test_an_extend_that_writes_nothing_asks_for_no_warm(
    channels: list[Channel], django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    paris = channels[0]
    playout_rebuild(channel=paris, horizon=timedelta(days=2))
    with django_capture_on_commit_callbacks() as callbacks:
        assert playout_extend(channel=paris, horizon=timedelta(days=1)) == 0
    assert callbacks == []
    with django_capture_on_commit_callbacks() as callbacks:
        assert playout_extend(channel=paris, horizon=timedelta(days=3)) > 0
    assert len(callbacks) == 1


def test_a_channel_without_rows_is_not_rendered(channels: list[Channel]) -> None:
    assert guide_warm(channel_ids=[channels[0].pk]) == 0
    assert guide_warm(channel_ids=[]) == 0


@pytest.mark.django_db(transaction=True)
def test_a_warm_in_a_worker_thread_serves_the_web_thread(
    channels: list[Channel], renders: list[int]
) -> None:
    """The embedded mode's worker is a thread of the web process: what it renders into
    the cache (LocMem there, Redis when distributed) is what the web's reads find."""
    for channel in channels:
        playout_rebuild(channel=channel, horizon=timedelta(days=2))
    failures: list[BaseException] = []

    def worker() -> None:
        try:
            warm_channel_guides([c.pk for c in channels])
        except BaseException as exc:  # reported by the test thread
            failures.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join(120)
    assert not thread.is_alive() and failures == []
    assert renders and sum(renders) >= 2
    renders.clear()
    warm = _guide()
    assert renders == []
    cache.clear()
    assert _guide() == warm
