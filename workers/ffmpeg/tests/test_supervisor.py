"""FFmpegProcess against real ffmpeg: exits, stops, stalls, kills, and no orphans."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from workers.ffmpeg.argv import BASE_ARGS
from workers.ffmpeg.confine import Confinement
from workers.ffmpeg.logs import LogEvent
from workers.ffmpeg.progress import Progress
from workers.ffmpeg.supervisor import ExitReason, FFmpegProcess

REPO = Path(__file__).resolve().parents[3]


def lavfi_argv(duration: float | None, *output: str, realtime: bool = True) -> list[str]:
    source = "testsrc=size=160x120:rate=10" + (f":duration={duration}" if duration else "")
    return [
        "ffmpeg",
        *BASE_ARGS,
        *(["-re"] if realtime else []),
        "-f",
        "lavfi",
        "-i",
        source,
        *(output or ("-f", "null", "-")),
    ]


def assert_group_gone(pgid: int) -> None:
    with pytest.raises(ProcessLookupError):
        os.killpg(pgid, 0)


def wait_for(predicate: object, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise AssertionError("condition not reached")


def test_it_reports_progress_and_completes() -> None:
    blocks: list[Progress] = []
    proc = FFmpegProcess(lavfi_argv(1, realtime=False), on_progress=blocks.append)
    proc.start()
    info = proc.wait(timeout=30)
    assert (info.reason, info.returncode, info.signal) == (ExitReason.COMPLETED, 0, None)
    assert blocks[-1].ended
    assert blocks[-1].frame == 10
    assert proc.pgid == proc.pid
    assert_group_gone(proc.pgid)


def test_stop_interrupts_so_ffmpeg_finalises_the_file(tmp_path: Path) -> None:
    out = tmp_path / "rec.mkv"
    proc = FFmpegProcess(
        lavfi_argv(None, "-c:v", "libx264", f"file:{out}"),
        confinement=Confinement(write=(str(tmp_path),)),
    )
    proc.start()
    wait_for(lambda: proc.last_progress is not None and (proc.last_progress.frame or 0) > 5)
    info = proc.stop(grace_seconds=10)
    assert info.reason is ExitReason.STOPPED
    assert info.signal is None  # it exited on its own after SIGINT, not by SIGKILL
    assert_group_gone(proc.pgid)
    probe = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-show_entries",
            "format=duration",
            "-of",
            "csv=p=0",
            f"file:{out}",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert float(probe.stdout) > 0.4  # the trailer (with duration) was written


def test_stop_kills_the_group_when_ffmpeg_ignores_sigint() -> None:
    proc = FFmpegProcess(lavfi_argv(None))
    proc.start()
    wait_for(lambda: proc.last_progress is not None)
    os.kill(proc.pid, signal.SIGSTOP)  # a frozen ffmpeg cannot act on SIGINT
    started = time.monotonic()
    info = proc.stop(grace_seconds=0.5)
    assert time.monotonic() - started < 5
    assert (info.reason, info.signal) == (ExitReason.STOPPED, signal.SIGKILL)
    assert_group_gone(proc.pgid)


def test_a_failing_input_is_failed_with_a_hint_in_the_tail(tmp_path: Path) -> None:
    events: list[LogEvent] = []
    argv = ["ffmpeg", *BASE_ARGS, "-i", f"file:{tmp_path}/missing.mp4", "-f", "null", "-"]
    proc = FFmpegProcess(argv, on_log=events.append)
    proc.start()
    info = proc.wait(timeout=30)
    assert info.reason is ExitReason.FAILED
    assert info.returncode == 1
    assert any(e.hint_code == "ffmpeg.input_not_found" for e in events)
    assert any("missing.mp4: No such file or directory" in line for line in info.log_tail)


def test_no_progress_means_stalled_and_killed() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    # Listening for a sender that never comes: alive, but no progress, ever.
    argv = ["ffmpeg", *BASE_ARGS, "-i", f"tcp://127.0.0.1:{port}?listen=1", "-f", "null", "-"]
    stalls: list[bool] = []
    proc = FFmpegProcess(
        argv, stall_timeout=1.0, stop_grace_seconds=1.0, on_stall=lambda: stalls.append(True)
    )
    proc.start()
    info = proc.wait(timeout=15)
    assert info.reason is ExitReason.STALLED
    assert stalls == [True]
    assert_group_gone(proc.pgid)


def test_an_outside_kill_is_reported_as_killed() -> None:
    proc = FFmpegProcess(lavfi_argv(None))
    proc.start()
    wait_for(lambda: proc.last_progress is not None)
    os.kill(proc.pid, signal.SIGKILL)
    info = proc.wait(timeout=10)
    assert (info.reason, info.signal) == (ExitReason.KILLED, signal.SIGKILL)


def test_an_exception_inside_the_context_stops_ffmpeg() -> None:
    proc = FFmpegProcess(lavfi_argv(None))

    def fail_while_running() -> None:
        with proc:
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        fail_while_running()
    assert proc.wait(timeout=1).reason is ExitReason.STOPPED
    assert_group_gone(proc.pgid)


def test_secrets_never_reach_callbacks_or_the_tail() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    key = "live_supersecret_9876"
    events: list[LogEvent] = []
    argv = lavfi_argv(
        1, "-c:v", "libx264", "-f", "flv", f"rtmp://127.0.0.1:{port}/app/{key}", realtime=False
    )
    proc = FFmpegProcess(argv, on_log=events.append, secrets=[key])
    proc.start()
    info = proc.wait(timeout=30)
    assert info.reason is ExitReason.FAILED
    assert any("••••9876" in line for line in info.log_tail)
    assert all(key not in e.line and key not in e.message for e in events)
    assert all(key not in line for line in info.log_tail)


def test_ffmpeg_outlives_the_thread_that_started_it() -> None:
    # PDEATHSIG follows the forking thread; the spawner thread keeps it from firing here.
    holder: list[FFmpegProcess] = []

    def start() -> None:
        proc = FFmpegProcess(lavfi_argv(None))
        proc.start()
        holder.append(proc)

    thread = threading.Thread(target=start)
    thread.start()
    thread.join()
    time.sleep(0.5)
    assert holder[0].is_running()
    assert holder[0].stop().reason is ExitReason.STOPPED


def _gone_or_zombie(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return True
    return state == "Z"  # killed; waiting for a reaper that this container may lack


@pytest.mark.slow
def test_ffmpeg_dies_when_its_supervisor_is_killed_hard() -> None:
    script = textwrap.dedent(
        f"""
        import sys, time
        sys.path.insert(0, {str(REPO)!r})
        from workers.ffmpeg.supervisor import FFmpegProcess
        proc = FFmpegProcess({lavfi_argv(None)!r}, stall_timeout=None)
        proc.start()
        print(proc.pid, flush=True)
        time.sleep(60)
        """
    )
    supervisor = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert supervisor.stdout is not None
    ffmpeg_pid = int(supervisor.stdout.readline())
    assert not _gone_or_zombie(ffmpeg_pid)
    supervisor.kill()  # SIGKILL: no cleanup code runs in the supervisor
    supervisor.wait()
    wait_for(lambda: _gone_or_zombie(ffmpeg_pid), timeout=5)
