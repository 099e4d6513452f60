"""Start and stop a channel: its own stream job plays the playout (inputs.channel_window).

The job is an ordinary stream job with input kind `channel`: the engine's lease,
reconciler, reconnects and hints supervise it like any other. Its loop makes the
worker start the next ffmpeg when one has played its window, and every ffmpeg
starts where the schedule is at that moment, so a restart after a killed worker
joins the row that should be playing at the right offset. A rebuild that changes
rows inside the window the running ffmpeg plays has it replaced at the first changed
row (channel_window_follow), so the picture keeps to the guide.
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.core.cache import cache
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from apps.accounts.audit import audit_record
from apps.channels.models import Channel, ChannelMode, PlayoutRow
from apps.channels.play import conf
from apps.channels.play.live import mark_stopped
from apps.channels.play.models import ChannelPlayer
from apps.channels.play.paths import hls_dir
from apps.streams.models import InputKind, JobState, StreamJob
from apps.streams.services import (
    stream_job_create,
    stream_job_delete,
    stream_job_respawn,
    stream_job_restart,
    stream_job_start,
    stream_job_stop,
    stream_job_update,
)
from castcore.api.errors import ApiError, Conflict

logger = logging.getLogger(__name__)

RUNNING = (JobState.STARTING, JobState.RUNNING, JobState.RECONNECTING)
# A channel plays on until it is stopped: a failed ffmpeg (a missing file, a killed
# worker) is retried for as long as it takes, quickly at first.
JOB_FIELDS = {
    "input_kind": InputKind.CHANNEL,
    "loop": True,
    "realtime": True,
    "reconnect_max_attempts": None,
    "reconnect_base_seconds": 0.2,
    "reconnect_cap_seconds": 10.0,
    "stall_timeout_seconds": 20.0,
}


def _hls_output(channel: Channel) -> dict[str, Any]:
    return {"name": "channel HLS", "kind": "hls", "url": str(hls_dir(channel.pk)), "enabled": True}


def _restream_outputs(channel: Channel) -> list[dict[str, Any]]:
    """The channel's restream outputs, as its relay job's outputs."""
    return [
        {"name": output.name or output.kind, "kind": output.kind, "url": output.url,
         "stream_key": output.stream_key, "enabled": output.enabled}
        for output in channel.outputs.all()
    ]  # fmt: skip


def _job_fields(channel: Channel) -> dict[str, Any]:
    return {**JOB_FIELDS, "name": f"channel {channel.number} {channel.name}"[:200],
            "profile": channel.output_profile}  # fmt: skip


def _relay_fields(channel: Channel) -> dict[str, Any]:
    # Its profile is the channel's for the record; the relay copies (inputs.RELAY_PROFILE).
    # Its recordings are titled after it.
    return {**_job_fields(channel), "name": f"channel {channel.number} {channel.name} relay"[:200]}


def _lock(channel: Channel) -> None:
    """Take the channel's row lock, in a transaction, before reading its player.

    A row lock on a player that does not exist yet locks nothing: two first starts would
    each make a job, and the second player's insert would fail. The channel's row exists;
    rebuilds and the input builder take the same lock first (services.playout, inputs).
    """
    Channel.objects.select_for_update().filter(pk=channel.pk).values_list("pk").first()


def _player(channel: Channel, *, actor: Any) -> ChannelPlayer:
    """The channel's player, its jobs made or brought up to date with the channel."""
    if channel.output_profile is None:
        raise ApiError("channel.profile_required", {"field": "output_profile"})
    hls_dir(channel.pk).mkdir(parents=True, exist_ok=True)
    _lock(channel)
    player = ChannelPlayer.objects.select_for_update().filter(channel=channel).first()
    outputs = [_hls_output(channel)]
    if player is None:
        job = stream_job_create(actor=actor, outputs=outputs, **_job_fields(channel))
        player = ChannelPlayer.objects.create(channel=channel, job=job)
    else:
        stream_job_update(actor=actor, job=player.job, outputs=outputs, **_job_fields(channel))
    if _restream_outputs(channel) or player.relay_job is not None:
        channel_relay(player=player, actor=actor)
    return player


def channel_relay(*, player: ChannelPlayer, actor: Any, recording: bool = False) -> StreamJob:
    """The channel's relay job, made (recording from the start when `recording`) or its
    outputs brought up to date with the channel's restream outputs.

    The relay copies the channel's own HLS to the restream outputs and, while the channel
    records, to the recording file: it outlives the replacements of the channel's ffmpeg
    (each window's end, each schedule change), so a receiver sees one publish and a
    recording is one file from "record on" to "record off" or the channel's stop.
    """
    channel = player.channel
    restream = _restream_outputs(channel)
    if player.relay_job is None:
        relay = stream_job_create(
            actor=actor, outputs=restream, recording_enabled=recording, **_relay_fields(channel)
        )
        ChannelPlayer.objects.filter(pk=player.pk).update(relay_job=relay)
        player.relay_job = relay
        return relay
    relay = StreamJob.objects.get(pk=player.relay_job.pk)
    # Without restream outputs and not recording it does not run (_relay_wanted): its
    # outputs are brought up to date when it next has something to do.
    if restream or relay.recording_enabled:
        stream_job_update(actor=actor, job=relay, outputs=restream, **_relay_fields(channel))
    return relay


def channel_player(*, channel: Channel, actor: Any) -> ChannelPlayer:
    """The channel's player, its job made on first use (a start, recording turned on)."""
    with transaction.atomic():
        found = ChannelPlayer.objects.select_for_update().filter(channel=channel).first()
        return found or _player(channel, actor=actor)


def _relay_wanted(player: ChannelPlayer) -> bool:
    """Whether the channel's relay has something to do while the channel plays: an enabled
    restream output, or the channel records."""
    relay = player.relay_job
    if relay is None:
        return False
    recording = StreamJob.objects.filter(pk=relay.pk, recording_enabled=True).exists()
    return recording or player.channel.outputs.filter(enabled=True).exists()


def channel_relay_follow(
    *, player: ChannelPlayer, actor: Any, request: HttpRequest | None = None
) -> None:
    """While the channel is wanted on the air, start its relay when it has something to do
    and stop it when it has nothing left (its stop ends a recording)."""
    if player.relay_job is None or not player.wanted:
        return
    relay = StreamJob.objects.get(pk=player.relay_job.pk)
    wanted = _relay_wanted(player)
    if relay.state in RUNNING and not wanted:
        stream_job_stop(actor=actor, job=relay, request=request)
    elif relay.state not in RUNNING and wanted:
        stream_job_start(actor=actor, job=relay, request=request)


def channel_start(
    *, actor: Any, channel: Channel, request: HttpRequest | None = None
) -> ChannelPlayer:
    """Stopped → playing: the channel's job starts, and its relay when it restreams (a
    no-op for what plays already)."""
    if not channel.enabled:
        raise ApiError("channel.disabled", {"channel": channel.pk}, status_code=409)
    with transaction.atomic():
        player = _player(channel, actor=actor)
        ChannelPlayer.objects.filter(pk=player.pk).update(wanted=True, held=False)
        player.wanted, player.held = True, False
        job = StreamJob.objects.get(pk=player.job_id)
        if job.state not in RUNNING:
            stream_job_start(actor=actor, job=job, request=request)
        channel_relay_follow(player=player, actor=actor, request=request)
        _audit(actor, "channel.start", channel, request)
    return player


def channel_outputs_changed(
    *, actor: Any, channel: Channel, request: HttpRequest | None = None
) -> None:
    """After the channel's restream outputs changed (channel_update): a playing channel's
    relay publishes to them now, not at its next start. Its job takes the new outputs
    and restarts with them (a new run: the old publisher stops, and a recording it makes
    goes on in a new file), stops when it has nothing left to do, or is made and started
    for the first output. A channel not playing has nothing to do: its start copies the
    outputs (_player)."""
    player = ChannelPlayer.objects.select_for_update().filter(channel=channel, wanted=True).first()
    if player is None:
        return
    restream = _restream_outputs(channel)
    relay = player.relay_job
    if relay is None:
        if not restream or channel.output_profile is None:
            return
        channel_relay(player=player, actor=actor)
    elif _job_outputs(relay) != restream:
        relay = StreamJob.objects.get(pk=relay.pk)
        # A relay that only records may have no output; one that does not, stops (below).
        if restream or relay.recording_enabled:
            stream_job_update(actor=actor, job=relay, outputs=restream, **_relay_fields(channel))
            if relay.state in RUNNING and _relay_wanted(player):
                stream_job_restart(actor=actor, job=relay, request=request)
                return
    else:
        # The outputs sent back unchanged (a form saving every field): no reconnect, which
        # a platform may take for the end of the broadcast.
        return
    channel_relay_follow(player=player, actor=actor, request=request)


def _job_outputs(job: StreamJob) -> list[dict[str, Any]]:
    """A relay job's outputs, as _restream_outputs gives the channel's."""
    return [
        {"name": output.name, "kind": output.kind, "url": output.url,
         "stream_key": output.stream_key, "enabled": output.enabled}
        for output in job.outputs.all()
    ]  # fmt: skip


def _audit(actor: Any, action: str, channel: Channel, request: HttpRequest | None) -> None:
    # Someone asked (the API, the admin, a scheduled action); the periodic step does not.
    if actor is not None:
        audit_record(actor=actor, action=action, target=channel, request=request)


def channel_stop(
    *, actor: Any, channel: Channel, request: HttpRequest | None = None, hold: bool = False
) -> bool:
    """Playing → stopped. False when it had never played.

    `hold`: stopped on purpose (the API's stop, a scheduled `channel.stop`), so viewers do
    not start an on-demand channel again until a start. Without it (an idle stop, a
    disabled channel) a hold from before stays: only a start ends it.
    """
    with transaction.atomic():
        player = ChannelPlayer.objects.select_for_update().filter(channel=channel).first()
        if player is None:
            return False
        ChannelPlayer.objects.filter(pk=player.pk).update(
            wanted=False, **({"held": True} if hold else {})
        )
        stream_job_stop(actor=actor, job=player.job, request=request)
        if player.relay_job is not None:
            stream_job_stop(actor=actor, job=player.relay_job, request=request)
        _audit(actor, "channel.stop", channel, request)
        # Its playlist stays on disk (the next run continues the numbering): what it
        # lists must no longer be served as live.
        transaction.on_commit(lambda: mark_stopped(channel.pk))
    return True


def channel_playing(*, channel: Channel) -> dict[str, Any]:
    """Whether the channel is wanted on the air (or held stopped), and its job and the job's
    state."""
    player = ChannelPlayer.objects.select_related("job").filter(channel=channel).first()
    if player is None:
        return {"channel": channel.pk, "wanted": False, "held": False, "job": None,
                "state": JobState.STOPPED}  # fmt: skip
    return {"channel": channel.pk, "wanted": player.wanted, "held": player.held,
            "job": player.job_id, "state": player.job.state}  # fmt: skip


def channel_jobs_forget(*, job_ids: list[int] | None = None) -> int:
    """Delete the stopped jobs of deleted channels (their player went with the channel).

    A job a worker still runs is left for the next pass: the stop reaches the worker
    first, and a stream job is deleted only once it is idle.
    """
    orphans = (
        StreamJob.objects.filter(input_kind=InputKind.CHANNEL)
        .exclude(pk__in=ChannelPlayer.objects.values("job_id"))
        .exclude(pk__in=ChannelPlayer.objects.exclude(relay_job=None).values("relay_job_id"))
    )
    if job_ids is not None:
        orphans = orphans.filter(pk__in=job_ids)
    deleted = 0
    for job in orphans:
        try:
            stream_job_delete(actor=None, job=job)
            deleted += 1
        except Conflict:
            pass  # still stopping
    return deleted


class Viewed(enum.Enum):
    """What a viewer's request did to its channel (channel_viewer_seen)."""

    NOTED = "noted"  # nothing to start: it plays, it is always-on, or it was noted lately
    STARTED = "started"  # an on-demand channel started: its first segments come soon
    PENDING = "pending"  # it cannot start yet (its job still stopping): wanted, ask again
    HELD = "held"  # stopped on purpose: it stays stopped until started
    REFUSED = "refused"  # it cannot start (no output profile, disabled meanwhile)


#: What stream_job_start answers for a job that has not finished stopping.
STILL_STOPPING = "stream_job.invalid_transition"


def _viewer_key(channel_id: int) -> str:
    return f"channels:viewer_seen:{channel_id}"


def channel_viewer_seen(*, channel: Channel) -> Viewed:
    """A viewer asked for the playlist (or reads the MPEG-TS): note it; start an on-demand
    channel that is not playing, unless it was stopped on purpose."""
    # Players poll the playlist every segment or two: the database hears of a channel's
    # viewers once per part of the idle time, which is all the idle rule needs.
    key = _viewer_key(channel.pk)
    if not cache.add(key, 1, max(1, conf.IDLE_SECONDS // 6)):
        return Viewed.NOTED
    now = timezone.now()
    updated = ChannelPlayer.objects.filter(channel=channel).update(last_viewer_at=now)
    # As it is now: a stream's request holds the row it began with for hours.
    current = Channel.objects.filter(pk=channel.pk).first()
    if current is None or current.mode != ChannelMode.ON_DEMAND:
        return Viewed.NOTED
    player = ChannelPlayer.objects.filter(channel=channel).select_related("job").first()
    if player is not None and player.held:
        return Viewed.HELD
    if updated and player is not None and player.wanted and player.job.state in RUNNING:
        return Viewed.NOTED
    try:
        channel_start(actor=None, channel=current)
    except ApiError as exc:
        # The next request tries again, not a part of the idle time later.
        cache.delete(key)
        return _viewer_not_started(channel, player, exc)
    ChannelPlayer.objects.filter(channel=channel).update(last_viewer_at=now)
    return Viewed.STARTED


def _viewer_not_started(channel: Channel, player: ChannelPlayer | None, exc: ApiError) -> Viewed:
    """A viewer's start was refused. An invalid transition is the job still stopping (an
    idle stop a moment ago): the channel is wanted again, so the keep-playing step starts
    it once the job has stopped, and the viewer's next request (or its hold) tries again."""
    if exc.code == STILL_STOPPING and player is not None:
        # Not over a stop on purpose that came meanwhile.
        ChannelPlayer.objects.filter(pk=player.pk, held=False).update(
            wanted=True, last_viewer_at=timezone.now()
        )
        logger.info("channel %s: a viewer's start waits: %s", channel.pk, exc.code)
        return Viewed.PENDING
    logger.info("channel %s: a viewer could not start it: %s", channel.pk, exc.code)
    return Viewed.REFUSED


def channel_held(*, channel: Channel) -> bool:
    """Whether the channel was stopped on purpose: viewers do not start it."""
    return ChannelPlayer.objects.filter(channel=channel, held=True).exists()


def _relay_down(player: ChannelPlayer) -> bool:
    """The channel restreams or records and its relay does not run (failed, stopped)."""
    relay = player.relay_job
    if relay is None:  # a restream output added since the channel started
        return player.channel.outputs.filter(enabled=True).exists()
    return relay.state not in RUNNING and _relay_wanted(player)


def channels_keep_playing(*, now: Any = None) -> dict[str, int]:
    """The periodic step: start always-on channels that should play and do not (never
    started, a window the job completed, a failure), stop disabled channels and on-demand
    channels no one watched for a while, and delete the jobs of deleted channels."""
    now = now or timezone.now()
    started = stopped = 0
    idle_before = now - timedelta(seconds=conf.IDLE_SECONDS)
    players = ChannelPlayer.objects.select_related("channel", "job", "relay_job").filter(
        wanted=True
    )
    for player in players:
        channel = player.channel
        try:
            idle = channel.mode == ChannelMode.ON_DEMAND and (
                player.last_viewer_at is None or player.last_viewer_at < idle_before
            )
            if idle or not channel.enabled:
                channel_stop(actor=None, channel=channel)  # not on purpose: viewers may restart
                stopped += 1
            elif player.job.state not in RUNNING or _relay_down(player):
                channel_start(actor=None, channel=channel)
                started += 1
        except ApiError as exc:
            logger.warning("channel %s could not be kept playing: %s", channel.pk, exc.code)
    # An always-on channel plays without being asked: one never started has no player.
    # A player stopped on purpose (wanted=False: the API, the scheduler) stays stopped.
    never_started = Channel.objects.filter(
        enabled=True, mode=ChannelMode.ALWAYS_ON, output_profile__isnull=False, player__isnull=True
    )
    for channel in never_started:
        try:
            channel_start(actor=None, channel=channel)
            started += 1
        except ApiError as exc:
            logger.warning("channel %s could not be started: %s", channel.pk, exc.code)
    return {"started": started, "stopped": stopped, "deleted": channel_jobs_forget()}


# What makes two rows play the same picture: the running ffmpeg has the old ones.
_AIRED = ("start", "end", "media_item_id", "asset_id", "replay_id", "in_point", "filler")


@dataclass(frozen=True)
class PlayingWindow:
    """The rows the channel's running ffmpeg was given, from a rebuild's change point on."""

    channel_id: int
    job_id: int
    since: datetime
    until: datetime
    rows: list[tuple[Any, ...]]


def _aired(channel_id: int, since: datetime, until: datetime) -> list[tuple[Any, ...]]:
    rows = PlayoutRow.objects.filter(channel_id=channel_id, start__gte=since, start__lt=until)
    return list(rows.order_by("start").values_list(*_AIRED))


def playing_window(*, channel: Channel, since: datetime) -> PlayingWindow | None:
    """What the channel's ffmpeg plays from `since` on (None: no window reaches past it).

    Call under the channel's row lock, before the rows change: the input builder takes
    it too (inputs.channel_window), so the window read here is the one on the air.
    """
    player = (
        ChannelPlayer.objects.filter(channel=channel, window_end__gt=since)
        .values_list("job_id", "window_end")
        .first()
    )
    if player is None:
        return None
    job_id, until = player
    if until is None:
        return None
    return PlayingWindow(channel.pk, job_id, since, until, _aired(channel.pk, since, until))


def channel_window_follow(*, window: PlayingWindow) -> datetime | None:
    """After the rows changed (a rebuild, under the same lock): when the window's rows now
    differ from what its ffmpeg has, have the job replace that ffmpeg at the first
    difference, an item boundary. Returns that instant, or None when nothing it plays
    changed."""
    after = _aired(window.channel_id, window.since, window.until)
    at = first_difference(window.rows, after)
    if at is None:
        return None
    at = max(at, window.since)
    # The running ffmpeg is ahead of the clock by up to the start lead (it joined that far
    # ahead): stopped that much early it has put out nothing of the old rows past `at`,
    # and the next one, joining `at` from then, has its picture up by `at`.
    stream_job_respawn(job_id=window.job_id, at=at - timedelta(seconds=conf.START_LEAD_SECONDS))
    return at


def first_difference(
    before: list[tuple[Any, ...]], after: list[tuple[Any, ...]]
) -> datetime | None:
    """The start of the first row (rows as `_AIRED` tuples, in order) where the lists part."""
    for old, new in zip(before, after, strict=False):
        if old != new:
            return min(old[0], new[0])
    if len(before) != len(after):
        longer = before if len(before) > len(after) else after
        return longer[min(len(before), len(after))][0]
    return None
