"""Preflight: check that a JobSpec can run here, before anything is published.

`run_preflight(spec)` is a generator: each check is yielded as soon as it
completes, so callers can store and stream results one by one. Checks never
raise; a failure is a red result with a machine-readable `code`
(`preflight.<reason>`), typed `params` and a plain English `message`.
Neither params nor messages ever carry secrets: URLs are reduced to
scheme/host/port and any ffmpeg detail is masked with the spec's secrets.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from workers.ffmpeg.preflight.media import (
    check_codecs,
    check_encoders,
    check_ffmpeg,
    check_input,
    incompatibility,
    muxer_for,
    needed_codecs,
)
from workers.ffmpeg.preflight.results import (
    GIB,
    CheckResult,
    PreflightOptions,
    Status,
    overall,
)
from workers.ffmpeg.preflight.results import result as _check
from workers.ffmpeg.preflight.targets import (
    Lookup,
    check_disk,
    check_local_output,
    check_network_output,
    check_stream_key,
    network_endpoint,
)
from workers.ffmpeg.spec import FileOutput, HlsLadderOutput, HlsOutput, JobSpec, RtmpOutput

__all__ = [
    "GIB",
    "CheckResult",
    "PreflightOptions",
    "Status",
    "incompatibility",
    "muxer_for",
    "needed_codecs",
    "overall",
    "run_preflight",
]

# ------------------------------------------------------------------ the run


def run_preflight(spec: JobSpec, options: PreflightOptions | None = None) -> Iterator[CheckResult]:
    """Yield every check for `spec`, each as soon as it is known."""
    options = options or PreflightOptions()
    outputs = list(enumerate(spec.outputs))
    enabled = [(i, o) for i, o in outputs if o.enabled]
    # Start every DNS lookup now so slow resolvers overlap with the local checks.
    lookups: dict[int, Lookup] = {}
    for index, output in enabled:
        target = network_endpoint(output)
        if target is not None:
            lookups[index] = Lookup(target[1], target[2] or 1)

    ffmpeg = check_ffmpeg(options.ffmpeg)
    yield ffmpeg
    if ffmpeg.status is not Status.RED:
        yield check_encoders(spec, options.ffmpeg)
    input_check, probed = check_input(spec, options)
    yield input_check
    if not enabled:
        yield _check(
            "outputs", Status.RED, "preflight.no_enabled_outputs", "Every output is disabled."
        )
    write_dirs: list[str] = list(options.extra_write_dirs)
    for index, output in enabled:
        if isinstance(output, RtmpOutput):
            yield check_stream_key(index, output)
        if index in lookups:
            yield from check_network_output(index, output, lookups[index], options)
        if isinstance(output, FileOutput | HlsOutput | HlsLadderOutput):
            yield check_local_output(index, output)
            write_dirs.append(
                str(Path(output.path).parent)
                if isinstance(output, FileOutput)
                else output.directory
            )
        yield check_codecs(index, output, spec, probed)
    if write_dirs:
        yield from check_disk(write_dirs, options)
