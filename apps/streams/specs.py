"""Map stream-job rows to the Django-free engine spec (workers.ffmpeg.spec.JobSpec).

The engine validates every value; a SpecError here becomes a 400 envelope
with the engine's code (`spec.<reason>`) through `as_api_error`. The values a
user chose (a file input, a URL input, outputs) also pass the engine's target
policy (workers.ffmpeg.policy), built here from the settings: on save, on
start, when a worker builds the argv, and in preflight.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from django.conf import settings

from apps.media.models import StorageSource
from apps.streams import conf
from apps.streams.live.ingest import is_internal_ingest
from apps.streams.live.ladder import ladder_output
from apps.streams.media_inputs import media_input
from apps.streams.models import (
    SEEKABLE_INPUT_KINDS,
    InputKind,
    LiveStream,
    OutputKind,
    StreamJob,
    StreamOutput,
)
from castcore.addresses import address_policy
from castcore.api.errors import ApiError
from castcore.managed import managed_paths
from workers.ffmpeg import policy as engine_policy
from workers.ffmpeg import spec as engine
from workers.ffmpeg.masking import mask_url

RECORDING_OUTPUT_NAME = "recording"
# Output kinds whose `url` is a network URL (it may carry credentials); the others hold paths.
URL_OUTPUT_KINDS = (OutputKind.RTMP, OutputKind.RTMPS, OutputKind.SRT, OutputKind.UDP)
# Engine field names of an output, as the API names them.
_OUTPUT_API_FIELDS = {"path": "url", "directory": "url", "passphrase": "stream_key"}
# Engine field names of a job, as the API names them.
_JOB_API_FIELDS = {"stall_timeout_s": "stall_timeout_seconds"}


def _api_field(field: str, prefix: str) -> str:
    if prefix:
        name = field.split(".", 1)[-1]
        return prefix + _OUTPUT_API_FIELDS.get(name, name)
    if field.startswith("input."):
        return "input_" + field.removeprefix("input.")  # input.path -> input_path
    return _JOB_API_FIELDS.get(field, field)


def as_api_error(exc: engine.SpecError, *, prefix: str = "") -> ApiError:
    """A SpecError as a 400 envelope; `prefix` locates it ("outputs.1.")."""
    params: dict[str, Any] = {key: value for key, value in exc.params.items()}
    if "field" in params:
        params["field"] = _api_field(str(params["field"]), prefix)
    elif prefix:
        params["field"] = prefix.rstrip(".")
    return ApiError(exc.code, params)


def shown_output_url(kind: str, url: str) -> str:
    """An output's URL as users see it (API, admin, audit log): credentials masked."""
    return mask_url(url) if kind in URL_OUTPUT_KINDS else url


def protected_paths() -> tuple[str, ...]:
    """Files no job may read or write, whatever the configured roots say."""
    var = Path(settings.VAR_DIR)
    found = [var / "broker", Path(settings.STATIC_ROOT)]
    found += [Path(settings.BASE_DIR) / name for name in ("castcore", "apps", "workers")]
    found += [Path(settings.BASE_DIR) / "manage.py", Path(sys.prefix)]
    # The database and the keys are not read either (outputs: castcore.managed refuses them).
    found += [Path(path) for name, path in managed_paths() if name in ("database", "keys")]
    return tuple(str(path) for path in found if path.is_absolute())


def target_policy(*, reads_files: bool = True) -> engine_policy.TargetPolicy:
    """What a job may read and write. Local storage sources add input roots, which only
    a file input is checked against: `reads_files=False` (a URL or test pattern input)
    leaves out that query, one of the few on the way from POST start to ffmpeg."""
    input_roots = conf.input_roots()
    if reads_files:
        local_sources = StorageSource.objects.filter(kind="local").exclude(path="")
        input_roots = (*input_roots, *local_sources.values_list("path", flat=True))
    return engine_policy.TargetPolicy(
        output_roots=conf.output_roots(),
        input_roots=input_roots,
        protected=protected_paths(),
        managed=managed_paths(),
        addresses=address_policy(),
    )


def input_spec_for(
    job: StreamJob, *, resolve: bool = True, policy: engine_policy.TargetPolicy | None = None
) -> engine.InputSpec:
    """`resolve=False` checks a media-library input's rows without asking its storage."""
    if job.input_kind in (InputKind.MEDIA_ITEM, InputKind.MEDIA_FOLDER):
        return media_input(job, resolve=resolve)
    if job.input_kind == InputKind.FILE:
        source: engine.InputSpec = engine.FileInput(path=job.input_path)
        return engine_policy.checked_input(source, policy or target_policy())
    if job.input_kind == InputKind.URL:
        kind = engine.UrlKind(job.input_url_kind) if job.input_url_kind else None
        source = engine.UrlInput(url=job.input_url, url_kind=kind)
        if is_internal_ingest(job):
            # A live stream's own ingest on CastCore's nginx-rtmp (loopback, or a private
            # address in docker-compose): CastCore chose it, so the private-target rule
            # is not for it; any other URL, on any job, is checked.
            return source
        return engine_policy.checked_input(source, policy or target_policy())
    if job.input_kind == InputKind.CHANNEL:
        # What the channel's playout says plays from now on (apps.channels.play).
        from apps.channels.play.inputs import channel_input

        return channel_input(job, resolve=resolve)
    if job.input_kind == InputKind.TEST_PATTERN:
        return engine.TestPatternInput(
            pattern=engine.TestPattern(job.input_pattern),
            width=job.input_width,
            height=job.input_height,
            rate=job.input_rate,
            with_audio=job.input_with_audio,
        )
    raise engine.SpecError("spec.unsupported_input", kind=job.input_kind)


def output_spec_for(
    output: StreamOutput,
    *,
    policy: engine_policy.TargetPolicy | None = None,
    resolve: bool = True,
) -> engine.OutputSpec:
    """The engine output for a row, checked against the target policy.

    `resolve=False` (validation) leaves a linked platform account's ingest unfetched.
    """
    return engine_policy.checked_output(_output_spec(output, resolve), policy or target_policy())


def _output_target(output: StreamOutput, resolve: bool) -> tuple[str, str]:
    """URL and key of a row: its own, or its platform account's (fetched when resolving)."""
    account = output.platform_account
    if account is None:
        return output.url, output.stream_key
    from apps.integrations.platforms.services import account_target

    try:
        ingest = account_target(account, fetch=resolve)
    except ValueError as exc:  # the account is revoked or the platform refused
        raise engine.SpecError(
            "spec.platform_account_unusable", field="platform_account", reason=str(exc)
        ) from None
    return ingest.url, ingest.key


def _output_spec(output: StreamOutput, resolve: bool = True) -> engine.OutputSpec:
    enabled, name = output.enabled, output.name
    if output.kind in (OutputKind.RTMP, OutputKind.RTMPS):
        url, key = _output_target(output, resolve)
        return engine.RtmpOutput(url=url, stream_key=key, enabled=enabled, name=name)
    if output.kind == OutputKind.SRT:
        url, key = _output_target(output, resolve)
        return engine.SrtOutput(url=url, passphrase=key or None, enabled=enabled, name=name)
    if output.kind == OutputKind.HLS:
        return engine.HlsOutput(directory=output.url, enabled=enabled, name=name)
    if output.kind == OutputKind.FILE:
        return engine.FileOutput(
            path=output.url,
            container=engine.Container(output.container),
            enabled=enabled,
            name=name,
        )
    if output.kind == OutputKind.UDP:
        return engine.UdpOutput(url=output.url, enabled=enabled, name=name)
    raise engine.SpecError("spec.unsupported_output", kind=output.kind)


def _located(
    row: StreamOutput, index: int, policy: engine_policy.TargetPolicy, resolve: bool = True
) -> engine.OutputSpec:
    """output_spec_for, its error naming the API field (`outputs.1.url`)."""
    try:
        return output_spec_for(row, policy=policy, resolve=resolve)
    except engine.SpecError as exc:
        field = _api_field(str(exc.params.get("field", "output")), f"outputs.{index}.")
        raise engine.SpecError(exc.code, **{**exc.params, "field": field}) from None


def recording_output(path: Path) -> engine.FileOutput:
    # Matroska survives an abrupt end (kill, crash) far better than MP4 without its moov atom.
    return engine.FileOutput(
        path=str(path), container=engine.Container.MKV, name=RECORDING_OUTPUT_NAME
    )


#: Where a check that builds a recording job's spec without a run folder puts the file.
RECORDING_CHECK_PATH = Path("/recording.mkv")


def checked_recording(job: StreamJob) -> Path | None:
    """The recording path a check gives `job`'s spec: a job that records has its recording
    as an output, so it may have none of its own (a channel's relay that only records).
    A run writes it in its run folder (runtime.workdir.recording_path)."""
    return RECORDING_CHECK_PATH if job.recording_enabled else None


def live_stream_of(job: StreamJob) -> LiveStream | None:
    """The live stream whose transcode `job` is, if it is one."""
    try:
        return job.live_stream
    except LiveStream.DoesNotExist:
        return None


def job_spec_for(
    job: StreamJob,
    *,
    workdir: Path | None = None,
    start_offset: float = 0.0,
    outputs_override: list[engine.OutputSpec] | None = None,
    recording_path: Path | None = None,
    outputs: Iterable[StreamOutput] | None = None,
    resolve: bool = True,
    for_run: bool = False,
) -> engine.JobSpec:
    """The engine spec for `job`.

    A live stream's job (its `live_stream`) gets the stream's HLS ladder as its last
    output (apps.streams.live.ladder), in the stream's folder (live.paths.hls_dir).
    `outputs_override` replaces the job's outputs (dry-run writes a temp file);
    `recording_path` adds the recording file output; `outputs` lets callers
    validate unsaved output rows. `workdir` is where build_argv will write its
    helper files; nothing is written here, and checks that only validate leave it
    out. `resolve=False` leaves a media-library input unresolved (see media_inputs).
    `for_run`: a run's ffmpeg will play this spec (the supervisor), not a check or a
    preview; a channel then records the window it hands out.
    """
    del workdir  # the spec itself holds no paths of its own; kept for a stable signature
    policy = target_policy(reads_files=job.input_kind == InputKind.FILE)
    if outputs_override is not None:
        targets: list[engine.OutputSpec] = list(outputs_override)
    else:
        rows = list(outputs) if outputs is not None else list(job.outputs.all())
        targets = [_located(row, index, policy, resolve) for index, row in enumerate(rows)]
        if recording_path is not None:
            targets.append(recording_output(recording_path))
    if job.input_kind == InputKind.CHANNEL:
        return _channel_spec(job, targets, resolve=resolve, for_run=for_run)
    source = input_spec_for(job, resolve=resolve, policy=policy)
    live_stream = live_stream_of(job)
    if live_stream is not None and outputs_override is None:
        # Last, so the job's own outputs keep their rows' indexes (preflight and errors
        # name them by index); the argv feeds them from the ladder wherever it is listed.
        with_audio = not isinstance(source, engine.TestPatternInput) or source.with_audio
        targets.append(ladder_output(live_stream, with_audio=with_audio))
    loop = job.loop or job.input_kind == InputKind.MEDIA_FOLDER
    # Files and playlists of files continue from a position; an S3 item (a URL) and
    # everything else start from their beginning (resume_point).
    played = start_offset if job.input_kind in SEEKABLE_INPUT_KINDS else 0.0
    source, offset = engine.resume_point(source, played_s=played, loop=loop)
    return engine.JobSpec(
        input=source,
        profile=job.profile.to_spec(),
        outputs=tuple(targets),
        loop=loop,
        realtime=job.realtime,
        start_offset_s=offset,
        stall_timeout_s=job.stall_timeout_seconds,
    )


def _channel_spec(
    job: StreamJob, targets: list[engine.OutputSpec], *, resolve: bool, for_run: bool
) -> engine.JobSpec:
    """A channel's job: its input starts where its schedule is now, its playlist goes on
    across ffmpeg restarts (the job's loop restarts it when its window ends), and its
    timestamps continue the timeline of the ffmpeg before (apps.channels.play). Or the
    channel's relay: its own HLS copied to its restream outputs."""
    from apps.channels.play.inputs import RELAY_PROFILE, channel_hls, channel_window, relay_input

    relay = relay_input(job, live_only=for_run) if resolve else None
    if relay is not None:
        return engine.JobSpec(
            input=relay,
            profile=RELAY_PROFILE,
            outputs=tuple(targets),
            loop=False,
            realtime=True,
            stall_timeout_s=job.stall_timeout_seconds,
        )

    window = channel_window(job, resolve=resolve, record=for_run)
    return engine.JobSpec(
        input=window.input,
        profile=job.profile.to_spec(),
        outputs=tuple(
            channel_hls(target) if isinstance(target, engine.HlsOutput) else target
            for target in targets
        ),
        loop=False,
        realtime=True,
        stall_timeout_s=job.stall_timeout_seconds,
        output_ts_offset_s=window.ts_offset_s,
    )
