"""Media-library inputs: an item or a folder, opened through its source's backend at run start."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from rest_framework.test import APIClient

from apps.media.models import MediaItem, StorageSource
from apps.media.tests.factories import make_item, make_smb_source, make_source
from apps.streams.models import ExitReason, JobState, RunState, StreamJob
from apps.streams.preview import preview
from apps.streams.runtime.workdir import run_workdir
from apps.streams.services import stream_job_start, stream_job_stop
from apps.streams.tests.factories import job_with_outputs, new_profile
from apps.streams.tests.helpers import (
    pause_and_wait,
    run_row,
    start_and_play,
    start_supervised,
    wait_until,
)
from workers.ffmpeg.testing import make_video


def library(root: Path, *names: str, seconds: float = 1.0) -> StorageSource:
    root.mkdir(parents=True, exist_ok=True)
    source = make_source(path=str(root))
    for name in names:
        make_video(root / name, seconds=seconds, size=(160, 120))
        make_item(source=source, relpath=name, duration=seconds)
    return source


def file_job(out: Path, **fields: Any) -> StreamJob:
    return job_with_outputs({"kind": "file", "url": str(out), "stream_key": ""}, **fields)


def hints(job: StreamJob) -> set[str]:
    return {line["hint_code"] for line in run_row(job).log_tail if line["hint_code"]}


def payload(**fields: Any) -> dict[str, Any]:
    return {
        "name": "library job",
        "profile": new_profile().pk,
        "outputs": [{"kind": "udp", "url": "udp://127.0.0.1:9"}],
        **fields,
    }


@pytest.mark.django_db
def test_a_missing_item_is_refused_on_create(operator_api: APIClient, tmp_path: Path) -> None:
    source = make_source(path=str(tmp_path))
    gone = make_item(source=source, relpath="gone.mp4", missing=True)
    response = operator_api.post(
        "/api/v1/stream-jobs",
        payload(input_kind="media_item", input_media_item=gone.pk),
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "stream_job.media_missing"

    empty = operator_api.post(
        "/api/v1/stream-jobs",
        payload(input_kind="media_folder", input_media_source=source.pk, input_media_folder=""),
        format="json",
    )
    assert empty.json()["error"]["code"] == "stream_job.media_missing"  # no present items

    present = make_item(source=source, relpath="here.mp4")
    created = operator_api.post(
        "/api/v1/stream-jobs",
        payload(input_kind="media_item", input_media_item=present.pk),
        format="json",
    )
    assert created.status_code == 201, created.json()
    assert created.json()["input_media_item"] == present.pk


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_media_item_runs_and_pause_resumes_it_from_its_position(tmp_path: Path) -> None:
    source = library(tmp_path / "lib", "show.mp4", seconds=30)
    item = MediaItem.objects.get(source=source)
    job = file_job(tmp_path / "out.mkv", input_kind="media_item", input_media_item=item)
    pause_and_wait(job, start_and_play(job, 2.0))
    assert 2.0 <= job.resume_position_s < 10.0

    argv = preview(job)["argv"]
    assert argv[argv.index("-ss") + 1] == f"{job.resume_position_s:.3f}"
    assert f"file:{tmp_path / 'lib' / 'show.mp4'}" in argv  # the backend's path
    stream_job_start(actor=None, job=job)
    assert run_row(job).start_offset_s == job.resume_position_s
    thread = start_supervised(job)
    wait_until(lambda: run_row(job).state == RunState.RUNNING)
    stream_job_stop(actor=None, job=job)
    thread.join(15)
    assert thread.result == ExitReason.STOPPED


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_media_folder_plays_its_present_items_in_name_order_as_a_loop(tmp_path: Path) -> None:
    root = tmp_path / "lib"
    (root / "shows" / "deeper").mkdir(parents=True)
    source = library(root, "shows/b.mp4", "shows/a.mp4", "shows/deeper/c.mp4", "top.mp4")
    make_item(source=source, relpath="shows/zz.mp4", missing=True)
    job = file_job(
        tmp_path / "out.mkv",
        input_kind="media_folder",
        input_media_source=source,
        input_media_folder="shows",
        realtime=False,
        profile=new_profile(video_bitrate_kbps=200),
    )
    stream_job_start(actor=None, job=job)
    thread = start_supervised(job)
    run = wait_until(lambda: (r := run_row(job)).state == RunState.RUNNING and r)
    workdir = run_workdir(job.pk, run.number)
    links = sorted((workdir / "media").iterdir())
    assert [os.readlink(link) for link in links] == [
        str(root / "shows" / "a.mp4"),
        str(root / "shows" / "b.mp4"),
    ]
    # Two 1 s clips, played well past their length: the playlist loops.
    wait_until(lambda: (run_row(job).last_stats.get("out_time_s") or 0) >= 5.0, timeout=30)
    assert run_row(job).reconnect_count == 0
    stream_job_stop(actor=None, job=job)
    thread.join(15)
    assert thread.result == ExitReason.STOPPED
    assert not workdir.exists()  # the concat list and its links are gone with the run


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("case", ["unmounted_share", "file_gone"])
def test_an_input_that_cannot_be_opened_fails_the_run_with_a_hint(
    case: str, tmp_path: Path
) -> None:
    if case == "unmounted_share":
        item = make_item(source=make_smb_source(), relpath="clip.mp4")
        expected = "mount.not_mounted"
    else:
        source = library(tmp_path / "lib", "clip.mp4")
        item = MediaItem.objects.get(source=source)
        (tmp_path / "lib" / "clip.mp4").unlink()  # deleted since the last scan
        expected = "storage.not_found"
    job = file_job(tmp_path / "out.mkv", input_kind="media_item", input_media_item=item)
    stream_job_start(actor=None, job=job)
    thread = start_supervised(job)
    thread.join(15)

    assert thread.result == ExitReason.ERROR
    assert expected in hints(job)
    line = next(e for e in run_row(job).log_tail if e["hint_code"] == expected)
    assert line["hint"]  # the media app's plain explanation
    job.refresh_from_db()
    assert (job.state, job.desired_state) == (JobState.FAILED, "stopped")


def solid_clip(path: Path, color: str, seconds: float) -> None:
    subprocess.run(
        ["ffmpeg", "-nostdin", "-hide_banner", "-v", "error", "-y",
         "-f", "lavfi", "-i", f"color={color}:size=160x120:rate=15:d={seconds}",
         "-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:d={seconds}",
         "-c:v", "libx264", "-g", "15", "-c:a", "aac", "-ac", "2", str(path)],
        check=True, timeout=60,
    )  # fmt: skip


def first_frame_rgb(path: Path) -> tuple[int, int, int]:
    done = subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-i", str(path), "-frames:v", "1",
         "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
        capture_output=True, check=True, timeout=60,
    )  # fmt: skip
    red, green, blue = done.stdout[:3]
    return red, green, blue


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_paused_media_folder_resumes_in_the_item_it_paused_in(tmp_path: Path) -> None:
    root = tmp_path / "lib"
    root.mkdir()
    source = make_source(path=str(root))
    for name, color, seconds in (("a.mp4", "red", 2.0), ("b.mp4", "blue", 8.0)):
        solid_clip(root / name, color, seconds)
        make_item(source=source, relpath=name, duration=seconds)
    out = tmp_path / "out.mkv"
    job = file_job(out, input_kind="media_folder", input_media_source=source, input_media_folder="")
    # Played in real time: past the first item (red), into the second (blue).
    pause_and_wait(job, start_and_play(job, 2.4))
    position = job.resume_position_s
    assert 2.4 <= position < 10.0, position

    # As if it had paused a whole pass (10 s) later: it still resumes in the blue item,
    # its list starting there and -ss counting from that item's start.
    StreamJob.objects.filter(pk=job.pk).update(resume_position_s=position + 10.0)
    job.refresh_from_db()
    argv = preview(job)["argv"]
    assert argv[argv.index("-ss") + 1] == f"{position - 2.0:.3f}"
    stream_job_start(actor=None, job=job)
    thread = start_supervised(job)
    run = wait_until(lambda: (r := run_row(job)).state == RunState.RUNNING and r)
    links = sorted((run_workdir(job.pk, run.number) / "media").iterdir())
    assert [os.readlink(link) for link in links] == [str(root / "b.mp4"), str(root / "a.mp4")]
    wait_until(lambda: (run_row(job).last_stats.get("out_time_s") or 0) >= 0.5, timeout=20)
    stream_job_stop(actor=None, job=job)
    thread.join(15)
    red, _, blue = first_frame_rgb(out)
    assert blue > 200 and red < 60, (red, blue)  # the resumed output starts blue, not red
