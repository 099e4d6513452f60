"""The command preview: the exact argv a job would run, secrets masked, plus warnings."""

from __future__ import annotations

import shlex
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db.models import Max

from apps.integrations.platforms.catalogue import preview_rules
from apps.streams.media_inputs import url_credentials
from apps.streams.models import StreamJob, StreamOutput
from apps.streams.runtime.workdir import run_workdir
from apps.streams.specs import as_api_error, job_spec_for
from workers.ffmpeg.argv import build_argv, mask_argv, preview_warnings
from workers.ffmpeg.egress import PREVIEW_PROXY_URL
from workers.ffmpeg.spec import SpecError, list_encoders


def _encoders() -> frozenset[str] | None:
    try:
        return frozenset(e.name for e in list_encoders(settings.FFMPEG_BINARY))
    except (OSError, ValueError, RuntimeError):
        return None  # no ffmpeg here: skip the encoder check rather than fail the preview
    except Exception:  # subprocess errors (timeout, non-zero exit)
        return None


def preview(job: StreamJob, outputs: list[StreamOutput] | None = None) -> dict[str, Any]:
    """`job` may be unsaved (then `outputs` are its unsaved rows)."""
    number = 1
    if job.pk:
        number = (job.runs.aggregate(last=Max("number"))["last"] or 0) + 1
    workdir = run_workdir(job.pk or 0, number)
    recording = workdir / "recording-001.mkv" if job.recording_enabled else None
    try:
        spec = job_spec_for(
            job,
            workdir=workdir,
            start_offset=job.resume_position_s,
            recording_path=recording,
            outputs=outputs,
        )
        with tempfile.TemporaryDirectory() as tmp:
            # Helper files go to a scratch dir; the argv names the run's real workdir paths.
            argv = build_argv(
                spec, Path(tmp), ffmpeg=settings.FFMPEG_BINARY, http_proxy=PREVIEW_PROXY_URL
            )
            argv = [arg.replace(tmp, str(workdir)) for arg in argv]
    except SpecError as exc:
        raise as_api_error(exc) from None
    masked = mask_argv(argv, (*spec.secrets(), *url_credentials(spec.input)))
    return {
        "argv": masked,
        "command": shlex.join(masked),
        "warnings": [asdict(w) for w in preview_warnings(spec, _encoders(), preview_rules())],
    }
