"""Two first starts of a channel that never played (two viewers at once, a viewer and the
scheduler) make one player and one job: they are ordered by the channel's row lock, as
a lock on a player that does not exist yet locks nothing."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from django.db import connection, connections, transaction

from apps.channels.models import Channel, ChannelMode
from apps.channels.play.models import ChannelPlayer
from apps.channels.play.services import channel_start, channel_stop
from apps.channels.tests.play_helpers import playing_channel
from apps.streams.models import InputKind, StreamJob
from apps.streams.tests.helpers import wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def _waiting_on_locks() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return int(cursor.fetchone()[0])


def test_two_first_starts_make_one_player_and_one_job(tmp_path: Path, settings: Any) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("row locks and concurrent transactions: PostgreSQL")
    settings.VAR_DIR = tmp_path
    channel = playing_channel(mode=ChannelMode.ON_DEMAND)
    locked, release = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def hold_inserts() -> None:
        # Players can be read and locked but not inserted until released: both starts
        # get as far as they can, whatever the threads' timing.
        try:
            with transaction.atomic():
                with connections["default"].cursor() as cursor:
                    table = ChannelPlayer._meta.db_table
                    cursor.execute(f'LOCK TABLE "{table}" IN SHARE MODE')
                locked.set()
                release.wait(60)
        finally:
            connections.close_all()

    def start() -> None:
        try:
            channel_start(actor=None, channel=Channel.objects.get(pk=channel.pk))
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            connections.close_all()

    blocker = threading.Thread(target=hold_inserts, daemon=True)
    blocker.start()
    assert locked.wait(30)
    starts = [threading.Thread(target=start, daemon=True) for _ in range(2)]
    for thread in starts:
        thread.start()
    try:
        # One waits to insert its player; the other for the first's lock (or, without the
        # channel's lock, to insert a second player).
        wait_until(lambda: _waiting_on_locks() >= 2, timeout=60)
    finally:
        release.set()
        blocker.join(30)
        for thread in starts:
            thread.join(60)
    assert errors == []
    assert ChannelPlayer.objects.filter(channel=channel).count() == 1
    jobs = StreamJob.objects.filter(input_kind=InputKind.CHANNEL)
    assert list(jobs.values_list("pk", flat=True)) == [ChannelPlayer.objects.get().job_id]
    channel_stop(actor=None, channel=channel)
