"""Run one ffmpeg process: spawn, watch, stop, and never leave it orphaned.

Guarantees:
- ffmpeg gets its own session/process group (start_new_session) so signals to
  the worker's group do not hit it and we can kill its whole group.
- ffmpeg dies with the supervisor: it runs with PR_SET_PDEATHSIG=SIGKILL.
  Linux fires PDEATHSIG when the *thread* that forked the child exits, not the
  process, so each ffmpeg is spawned by the daemon thread that then waits for it
  and lives as long as it does; a Celery task thread that finishes cannot kill
  its ffmpeg. That thread is also what Landlock confines (confine.py) before it
  spawns: the confinement is the thread's, and ffmpeg inherits it.
  The signal is set by `setpriv --pdeathsig KILL` (util-linux), which then
  execs ffmpeg: with no preexec_fn, subprocess can vfork, where a preexec_fn
  forces a fork that copies the page tables of a large web/worker process
  (about 11 ms at 230 MB RSS, more under load, on every start). Without
  setpriv, a preexec_fn sets it. setpriv cannot re-check that the parent is
  still there after prctl, as the preexec_fn does: a worker that dies within
  the millisecond between exec and setpriv's prctl leaves its ffmpeg behind.
- The process group is killed before the child is reaped (waitid WNOWAIT), so
  the pgid cannot have been reused by an unrelated process when we signal it.

Callbacks run on reader threads; they must be quick and must not raise (an
exception is logged and swallowed so the reader keeps draining the pipe).
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import logging
import os
import re
import shutil
import signal
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from enum import StrEnum

from workers.ffmpeg.bitrate import VideoStats, parse_video_stats
from workers.ffmpeg.confine import (
    SYSTEM_ONLY,
    Confinement,
    resolved_argv,
    restrict_thread,
    ruleset_for,
)
from workers.ffmpeg.egress import child_env
from workers.ffmpeg.logs import LogClassifier, LogEvent, LogSides
from workers.ffmpeg.progress import Progress, ProgressParser

logger = logging.getLogger(__name__)

PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(None, use_errno=True)  # resolved before fork: the child only calls it
_prctl = _libc.prctl
_LINE_SPLIT = re.compile(rb"\r\n|\r|\n")


@functools.cache
def _setpriv() -> str | None:
    """setpriv, if it knows --pdeathsig (util-linux >= 2.33)."""
    path = shutil.which("setpriv")
    if path is None:
        return None
    try:
        done = subprocess.run([path, "--help"], capture_output=True, timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return path if b"--pdeathsig" in done.stdout else None


class ExitReason(StrEnum):
    COMPLETED = "completed"  # exited 0 on its own (input ended)
    STOPPED = "stopped"  # we asked it to stop
    FAILED = "failed"  # exited non-zero on its own
    STALLED = "stalled"  # no progress for stall_timeout; we killed it
    KILLED = "killed"  # a signal we did not send (OOM killer, operator kill -9)


@dataclass(frozen=True)
class ExitInfo:
    returncode: int | None
    signal: int | None  # the signal that ended it, if any
    reason: ExitReason
    log_tail: tuple[str, ...]
    duration_s: float


def die_with_parent(parent_pid: int) -> None:
    """preexec_fn: SIGKILL this child when the process that forked it dies."""
    # Runs in the child between fork and exec: only async-signal-safe-ish calls.
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent_pid:  # parent died before prctl took effect
        os._exit(1)


class FFmpegProcess:
    """Supervise one ffmpeg run. Use as a context manager or call start()/stop()/wait()."""

    def __init__(
        self,
        argv: Sequence[str],
        *,
        on_progress: Callable[[Progress], None] | None = None,
        on_log: Callable[[LogEvent], None] | None = None,
        on_stall: Callable[[], None] | None = None,
        on_video_stats: Callable[[VideoStats], None] | None = None,
        stall_timeout: float | None = 30.0,
        stop_grace_seconds: float = 5.0,
        tail_lines: int = 200,
        secrets: Sequence[str] = (),
        cwd: str | None = None,
        confinement: Confinement = SYSTEM_ONLY,
        sides: LogSides | None = None,
    ) -> None:
        """`confinement`: the files and folders ffmpeg may touch besides the system's
        (confine.confinement_for(spec, workdir) for a job); by default none.
        `on_video_stats`: ask ffmpeg for its video encoder's statistics (-vstats_file)
        and get each line, parsed (bitrate.BitrateMeter)."""
        self.argv = list(argv)
        self.confinement = confinement
        self.on_progress = on_progress
        self.on_log = on_log
        self.on_stall = on_stall
        self.on_video_stats = on_video_stats
        self.stall_timeout = stall_timeout
        self.stop_grace_seconds = stop_grace_seconds
        self.cwd = cwd
        # What names the input and the outputs, so hints speak about the right one.
        self._classifier = LogClassifier(secrets, sides)
        self._tail: deque[str] = deque(maxlen=tail_lines)
        self._parser = ProgressParser()
        self._proc: subprocess.Popen[bytes] | None = None
        self._threads: list[threading.Thread] = []
        self._last_progress_at = 0.0
        self._started_at = 0.0
        self._stop_requested = False
        self._stalled = False
        self._lock = threading.Lock()
        self._exited = threading.Event()
        self._readers_started = threading.Event()
        self._exit: ExitInfo | None = None
        self.last_progress: Progress | None = None

    # ----------------------------------------------------------- lifecycle

    def start(self) -> None:
        if self._proc is not None:
            raise RuntimeError("already started")
        command = resolved_argv(self.argv)  # a missing binary: FileNotFoundError, as Popen's
        stats_read, stats_write = os.pipe() if self.on_video_stats else (-1, -1)
        if stats_write >= 0:
            # ffmpeg fopen()s the name: /dev/fd/N reopens the pipe it inherits (pass_fds), so
            # nothing grows on disk for hours; Landlock lets a process open its own pipe.
            command = [command[0], "-vstats_file", f"/dev/fd/{stats_write}", *command[1:]]
        parent = os.getpid()
        # PDEATHSIG, see the module docstring: setpriv (vfork) or a preexec_fn (fork).
        setpriv = _setpriv()
        argv = [setpriv, "--pdeathsig", "KILL", "--", *command] if setpriv else command
        preexec = None if setpriv else (lambda: die_with_parent(parent))

        def factory() -> subprocess.Popen[bytes]:
            return subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
                preexec_fn=preexec,
                cwd=self.cwd,
                close_fds=True,
                pass_fds=(stats_write,) if stats_write >= 0 else (),
                env=child_env(),  # no proxy variables: its http(s) inputs use the egress proxy
            )

        started: Future[subprocess.Popen[bytes]] = Future()
        try:
            with ruleset_for(self.confinement, command) as ruleset:
                threading.Thread(
                    target=self._spawn_and_reap,
                    args=(factory, ruleset, started),
                    daemon=True,
                    name="ffmpeg-wait",
                ).start()
                self._proc = started.result()
        except BaseException:
            if stats_read >= 0:
                os.close(stats_read)
            raise
        finally:
            if stats_write >= 0:
                os.close(stats_write)  # ffmpeg holds the only write end: EOF when it exits
        self._started_at = self._last_progress_at = time.monotonic()
        assert self._proc.stdout is not None
        assert self._proc.stderr is not None
        readers = [
            (self._proc.stdout.fileno(), self._handle_stdout, "progress"),
            (self._proc.stderr.fileno(), self._handle_stderr, "stderr"),
        ]
        if stats_read >= 0:
            readers.append((stats_read, self._handle_video_stats, "vstats"))
        try:
            for fd, handler, name in readers:
                thread = threading.Thread(
                    target=self._read_lines,
                    args=(fd, handler, fd == stats_read),
                    daemon=True,
                    name=f"ffmpeg-{self._proc.pid}-{name}",
                )
                thread.start()
                self._threads.append(thread)
        finally:
            self._readers_started.set()  # the waiting thread reaps ffmpeg in any case
        if self.stall_timeout is not None:
            threading.Thread(
                target=self._watchdog, daemon=True, name=f"ffmpeg-{self._proc.pid}-watchdog"
            ).start()

    @property
    def pid(self) -> int:
        if self._proc is None:
            raise RuntimeError("not started")
        return self._proc.pid

    @property
    def pgid(self) -> int:
        # start_new_session makes ffmpeg a session and group leader: pgid == pid.
        return self.pid

    def is_running(self) -> bool:
        return self._proc is not None and not self._exited.is_set()

    def stop(self, grace_seconds: float | None = None) -> ExitInfo:
        """SIGINT (ffmpeg finalises files and trailers), then SIGKILL the group after grace."""
        grace = self.stop_grace_seconds if grace_seconds is None else grace_seconds
        with self._lock:
            if not self._stalled:
                self._stop_requested = True
        self._terminate(grace)
        return self.wait()

    def kill(self) -> ExitInfo:
        with self._lock:
            self._stop_requested = True
        self._terminate(0)
        return self.wait()

    def wait(self, timeout: float | None = None) -> ExitInfo:
        if self._proc is None:
            raise RuntimeError("not started")
        if not self._exited.wait(timeout):
            raise TimeoutError("ffmpeg is still running")
        assert self._exit is not None
        return self._exit

    def __enter__(self) -> FFmpegProcess:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.is_running():
            self.stop()

    @property
    def log_tail(self) -> tuple[str, ...]:
        return tuple(self._tail)

    # ----------------------------------------------------------- internals

    def _terminate(self, grace: float) -> None:
        if self._proc is None or self._exited.is_set():
            return
        if grace > 0:
            try:
                os.kill(self._proc.pid, signal.SIGINT)
            except ProcessLookupError:
                return
            if self._exited.wait(grace):
                return
        self._killpg()
        self._exited.wait(10)

    def _killpg(self) -> None:
        assert self._proc is not None
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pgid, signal.SIGKILL)

    def _spawn_and_reap(
        self,
        factory: Callable[[], subprocess.Popen[bytes]],
        ruleset: int | None,
        started: Future[subprocess.Popen[bytes]],
    ) -> None:
        """Confine this thread, spawn ffmpeg from it, then wait for ffmpeg (module docstring)."""
        try:
            if ruleset is not None:
                restrict_thread(ruleset)
            proc = factory()
        except BaseException as exc:
            started.set_exception(exc)
            return
        threading.current_thread().name = f"ffmpeg-{proc.pid}-wait"
        started.set_result(proc)
        self._readers_started.wait()  # the readers to join once it exits
        self._reap()

    def _reap(self) -> None:
        assert self._proc is not None
        # Wait without reaping, kill anything left in the group while the zombie still
        # pins the pgid, then reap. Readers finish once the pipes close.
        os.waitid(os.P_PID, self._proc.pid, os.WEXITED | os.WNOWAIT)
        self._killpg()
        returncode = self._proc.wait()
        for thread in self._threads:
            thread.join(timeout=5)
        sig = -returncode if returncode < 0 else None
        with self._lock:
            if self._stalled:
                reason = ExitReason.STALLED
            elif self._stop_requested:
                reason = ExitReason.STOPPED
            elif sig is not None:
                reason = ExitReason.KILLED
            else:
                reason = ExitReason.COMPLETED if returncode == 0 else ExitReason.FAILED
        self._exit = ExitInfo(
            returncode=returncode,
            signal=sig,
            reason=reason,
            log_tail=tuple(self._tail),
            duration_s=time.monotonic() - self._started_at,
        )
        self._exited.set()

    def _watchdog(self) -> None:
        assert self.stall_timeout is not None
        while not self._exited.wait(min(1.0, self.stall_timeout / 4)):
            if time.monotonic() - self._last_progress_at < self.stall_timeout:
                continue
            with self._lock:
                if self._stop_requested:
                    return
                self._stalled = True
            self._call(self.on_stall)
            self._terminate(self.stop_grace_seconds)
            return

    def _read_lines(self, fd: int, handler: Callable[[str], None], owned: bool = False) -> None:
        # os.read instead of file iteration: ffmpeg may end lines with \r only.
        buffer = b""
        try:
            while True:
                chunk = os.read(fd, 65536)
                if not chunk:
                    break
                buffer += chunk
                *lines, buffer = _LINE_SPLIT.split(buffer)
                for raw in lines:
                    if raw:
                        handler(raw.decode("utf-8", "replace"))
            if buffer:
                handler(buffer.decode("utf-8", "replace"))
        finally:
            if owned:  # a pipe of our own, not one of Popen's
                os.close(fd)

    def _handle_stdout(self, line: str) -> None:
        block = self._parser.feed_line(line)
        if block is None:
            return
        self._last_progress_at = time.monotonic()
        self.last_progress = block
        self._call(self.on_progress, block)

    def _handle_video_stats(self, line: str) -> None:
        stats = parse_video_stats(line)
        if stats is not None:
            self._call(self.on_video_stats, stats)

    def _handle_stderr(self, line: str) -> None:
        event = self._classifier.classify(line)
        self._tail.append(event.line)  # already masked
        self._call(self.on_log, event)

    @staticmethod
    def _call(callback: Callable[..., None] | None, *args: object) -> None:
        if callback is None:
            return
        try:
            callback(*args)
        except Exception:
            logger.exception("ffmpeg supervisor callback failed")
