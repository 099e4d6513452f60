"""Run Owncast's own automated API tests (jest) against a CastCore brought up for them.

    .venv/bin/python scripts/owncast_api_tests.py DIR [--base root|stream] [--hold]

DIR holds the files of Owncast's `test/automated/api/` at the tag to check (v0.0.10:
`*.test.js`, `lib/`, `package.json`, `package-lock.json`), with `node_modules` installed
there (`npm ci`) and, if it is there, Owncast's `test/automated/test.mp4` (in DIR or
its parent); they are not in this repository. What this does, as Owncast's `run.sh`
does for an Owncast built from source:

1. brings up CastCore in the embedded mode (`python -m castcore.serve`, which starts and
   supervises nginx-rtmp) on free loopback ports with a fresh `CASTCORE_VAR_DIR`;
2. creates an admin, a live stream with a known ingest key (the Owncast admin password and
   stream key) and makes it the instance's default Owncast stream;
3. publishes the test video with ffmpeg to the RTMP ingest, with Owncast's arguments
   (lavfi testsrc + sine of the same size, rate and bitrate when there is no test.mp4),
   and waits until the stream is live;
4. copies the tests to a temporary folder changing only the base URL (`127.0.0.1:8080`,
   `localhost:8080`), the admin password and the stream key (`abc123`), and runs jest there
   in band (one file after another, as Owncast's CI on two cores did);
5. prints each file's passed and failed tests, the failures' messages, and stops
   everything it started (ffmpeg, the server and the nginx it supervises), checking that
   no process of theirs is left.

`--base stream` points the tests at the stream's own base (`/owncast/<slug>`) instead of
the host root. `--hold` keeps the server and the publisher up after the run, to replay a
failing request by hand, until Ctrl-C. `--distributed` runs the web server, a Celery worker,
beat and nginx-rtmp as separate processes on PostgreSQL (a scratch database beside
DATABASE_URL's) and Redis. Last, CastCore's logs are searched for the ingest key and chat
access tokens in clear. The exit status is jest's.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, suppress
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from apps.streams.tests.test_embedded_mode_e2e import call  # noqa: E402
from castcore.tests.test_run_modes import (  # noqa: E402
    embedded_env,
    free_port,
    stop,
    wait_for_health,
)

# What Owncast's tests hard-code, and the only things this changes in them.
OWNCAST_BASES = ("http://127.0.0.1:8080", "ws://localhost:8080", "http://localhost:8080")
OWNCAST_KEY = "abc123"
SLUG = "owncast-tests"
DISTRIBUTED_ENV = ("DATABASE_URL", "REDIS_URL", "SECRET_KEY", "CASTCORE_FERNET_KEYS")
ADMIN = "owncast-tests-admin"


def wait(predicate: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with suppress(OSError, ValueError):
            if value := predicate():
                return value
        time.sleep(0.5)
    raise SystemExit(f"owncast-api-tests: {what}: not within {timeout:.0f} s")


def manage(env: dict[str, str], *command: str) -> None:
    subprocess.run(
        [sys.executable, "manage.py", *command], cwd=ROOT, env=env, check=True, timeout=300
    )


def publisher_argv(video: Path | None, url: str) -> list[str]:
    """Owncast v0.0.10's run.sh: the test file looped in real time, H.264 main at 1300k."""
    if video is not None:
        source = ["-stream_loop", "-1", "-re", "-i", str(video)]
        audio = ["-acodec", "copy"]
    else:  # the same picture size, rate and bitrate as test.mp4 gives; testsrc is RGB
        source = ["-re", "-f", "lavfi", "-i", "testsrc=size=320x180:rate=24",
                  "-re", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100",
                  "-pix_fmt", "yuv420p"]  # fmt: skip
        audio = ["-acodec", "aac", "-b:a", "128k"]
    return ["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", *source,
            "-vcodec", "libx264", "-profile:v", "main", "-sc_threshold", "0", "-b:v", "1300k",
            *audio, "-f", "flv", url]  # fmt: skip


def find_video(tests: Path) -> Path | None:
    for candidate in (tests / "test.mp4", tests.parent / "test.mp4"):
        if candidate.is_file():
            return candidate
    return None


def copy_tests(source: Path, target: Path, base: str, key: str) -> None:
    """The tests as Owncast wrote them but for the base URL, the admin password and the key."""
    shutil.copytree(
        source, target, ignore=shutil.ignore_patterns("node_modules", "*.mp4", "ffmpeg")
    )
    (target / "node_modules").symlink_to(source / "node_modules")
    for path in [*target.glob("*.js"), *target.glob("lib/*.js")]:
        text = path.read_text()
        for owncast in OWNCAST_BASES:
            scheme = owncast.split(":")[0]
            text = text.replace(owncast, base.replace("http", scheme, 1))
        path.write_text(re.sub(rf"\b{OWNCAST_KEY}\b", key, text))


# A failed expectation in a callback that is no test's promise (a `.then()` in a test
# that has called done(), a WebSocket's event handler): Node warns, the test passes.
STRAY = re.compile(r"UnhandledPromiseRejectionWarning: (?!Unhandled promise rejection)(.*)")
FILE_DONE = re.compile(r"^(?:PASS|FAIL) +(\S+)")


def run_jest(
    folder: Path, work: Path, extra: list[str]
) -> tuple[int, dict[str, Any] | None, dict[str, list[str]]]:
    """Jest's exit status, its JSON results, and the stray failures of each file."""
    results_file = work / "results.json"
    jest = subprocess.Popen(
        # Node 14, which Owncast's CI ran in 2021, warned of an unhandled rejection;
        # Node 15+ exits, and the run with it.
        ["node", "--unhandled-rejections=warn", "node_modules/.bin/jest", "--ci", "--runInBand",
         "--json", f"--outputFile={results_file}", f"--cacheDirectory={work / 'jest-cache'}",
         *extra],
        cwd=folder, env={**os.environ, "CI": "true"}, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    strays: dict[str, list[str]] = {}
    pending: list[str] = []
    assert jest.stderr is not None
    for line in jest.stderr:
        sys.stderr.write(line)
        if stray := STRAY.search(line):
            pending.append(stray.group(1))
        elif (done := FILE_DONE.match(line)) and pending:
            strays[done.group(1).removeprefix("./")], pending = pending, []
    if pending:
        strays["(after the last file)"] = pending
    code = jest.wait()
    results = json.loads(results_file.read_text()) if results_file.exists() else None
    return code, results, strays


def summarise(results: dict[str, Any], root: Path, strays: dict[str, list[str]]) -> list[str]:
    """A table of passed, failed and stray per file, then what each failure said."""
    lines = [f"{'file':<32} {'passed':>6} {'failed':>6} {'stray':>6}"]
    failures: list[str] = []
    totals = [0, 0, 0]
    for suite in sorted(results["testResults"], key=lambda s: s["name"]):
        name = str(Path(suite["name"]).relative_to(root))
        tests = suite["assertionResults"]
        counts = [
            sum(t["status"] == "passed" for t in tests),
            sum(t["status"] == "failed" for t in tests),
        ]
        if not tests and suite.get("message"):
            failures.append(f"--- {name}: the file did not run\n{suite['message'].strip()}")
        # An `async (done)` test that throws fails and leaves its rejection unhandled too:
        # a stray with a failed test's message is that failure, said twice.
        stray = list(strays.get(name, []))
        for test in tests:
            if test["status"] == "failed":
                message = "\n".join(
                    line
                    for line in "\n".join(test["failureMessages"]).splitlines()
                    if not line.lstrip().startswith("at ")  # the stack: jest's and supertest's
                ).strip()
                failures.append(f"--- {name} › {test['title']}\n{message}")
                first = message.splitlines()[0] if message else ""
                if first in stray:
                    stray.remove(first)
        failures.extend(f"--- {name} (stray: an expectation failed outside a test) {what}"
                        for what in stray)  # fmt: skip
        counts.append(len(stray))
        totals = [a + b for a, b in zip(totals, counts, strict=True)]
        lines.append(f"{name:<32} {counts[0]:>6} {counts[1]:>6} {counts[2]:>6}")
    names = {str(Path(suite["name"]).relative_to(root)) for suite in results["testResults"]}
    for name, found in strays.items():
        if name not in names:
            totals[2] += len(found)
            failures.extend(f"--- {name} (stray) {what}" for what in found)
    lines.append(f"{'total':<32} {totals[0]:>6} {totals[1]:>6} {totals[2]:>6}")
    return [*lines, "", *failures]


# Owncast clients put their chat token in the chat socket's URL.
TOKEN_PARAM = re.compile(r"(?i)[?&]access_?token=([^&\s\"']+)")


def secrets_in_log(log: Path, key: str) -> list[str]:
    """What the server wrote in clear: the ingest key, or a chat token from a URL."""
    text = log.read_text(errors="replace")
    found = [f"the ingest key ({text.count(key)} times)"] if key in text else []
    tokens = {m.group(1) for m in TOKEN_PARAM.finditer(text)} - {"undefined", "null"}
    tokens = {t for t in tokens if "•" not in unquote(t)}
    if tokens:
        found.append(f"{len(tokens)} access tokens in URLs")
    return found


def descendants(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


@contextmanager
def started(argv: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A process in a session of its own, stopped (and its whole group killed) on exit."""
    with log.open("wb") as out:
        process = subprocess.Popen(
            argv, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=out,
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    children: list[psutil.Process] = []
    try:
        yield process
    finally:
        children = descendants(process.pid)
        stop(process)
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        _, alive = psutil.wait_procs(children, timeout=10)
        left = [p for p in alive if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
        if left:
            for p in left:
                with suppress(psutil.NoSuchProcess):
                    p.kill()
            print(f"owncast-api-tests: killed what {argv[0]} left: {left}", file=sys.stderr)


def set_up_stream(base: str, password: str, key: str) -> dict[str, Any]:
    token = call(base, "POST", "/api/v1/auth/login", {"username": ADMIN, "password": password})[
        "access"
    ]
    profile = call(
        base, "POST", "/api/v1/ffmpeg-profiles",
        {"name": "owncast-tests", "preset": "ultrafast", "video_bitrate_kbps": 300,
         "width": 320, "height": 180, "keyframe_interval_s": 2.0, "audio_bitrate_kbps": 64},
        token,
    )  # fmt: skip
    stream: dict[str, Any] = call(
        base, "POST", "/api/v1/live-streams",
        {"name": "Owncast tests", "slug": SLUG, "profile": profile["id"], "ingest_key": key,
         "variants": [{"name": "180p", "height": 180, "video_bitrate_kbps": 300}]},
        token,
    )  # fmt: skip
    stream["token"] = token
    return stream


@contextmanager
def scratch_database(url: str) -> Iterator[str]:
    """A database of its own beside DATABASE_URL's (named after it, plus a suffix), dropped after.

    The tests want a fresh instance (`check webhooks` counts them)."""
    import psycopg

    parts = urlsplit(url)
    name = f"{parts.path.lstrip('/')}_owncast_{secrets.token_hex(4)}"
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as db:
        db.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlunsplit(parts._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(admin, autocommit=True) as db:
            db.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def start_castcore(
    stack: ExitStack, args: argparse.Namespace, env: dict[str, str], work: Path, port: int
) -> None:
    """The web server; in the distributed mode also a worker, beat and nginx-rtmp of their own."""
    web = [sys.executable, "-m", "castcore.serve", "-b", "127.0.0.1", "-p", str(port),
           "castcore.asgi:application"]  # fmt: skip
    server = stack.enter_context(started(web, env, work / "server.log"))
    if not args.distributed:  # the web process runs the worker and supervises nginx-rtmp
        wait(lambda: descendants(server.pid), 20, "nginx-rtmp started by CastCore")
        return
    prefix = work / "nginx-rtmp"
    prefix.mkdir()
    manage(env, "render_nginx_rtmp", "--prefix", str(prefix), "-o", str(prefix / "nginx.conf"))
    celery = [str(Path(sys.executable).parent / "celery"), "-A", "castcore"]
    for name, argv in {
        "nginx": ["nginx", "-p", str(prefix), "-c", str(prefix / "nginx.conf")],
        "worker": [*celery, "worker", "-Q", "default,ffmpeg,scans", "--pool=threads",
                   "--concurrency=4", f"--hostname=owncast-tests-{secrets.token_hex(3)}@%h",
                   "--without-mingle", "--without-gossip", "--loglevel=INFO"],
        "beat": [*celery, "beat", "-s", str(work / "beat-schedule"), "--loglevel=INFO"],
    }.items():  # fmt: skip
        stack.enter_context(started(argv, env, work / f"{name}.log"))


def create_admin(env: dict[str, str], password: str) -> None:
    manage(
        env, "shell", "-c",
        "from apps.accounts.models import User;"
        f"User.objects.create_user(username={ADMIN!r}, password={password!r}, role='admin')",
    )  # fmt: skip


def bring_up_and_run(
    stack: ExitStack, args: argparse.Namespace, env: dict[str, str], work: Path, port: int, key: str
) -> int:
    """Bring CastCore and the publisher up (stopped when `stack` closes), run jest; its status."""
    tests = args.tests.resolve()
    base = f"http://127.0.0.1:{port}"
    if args.distributed:
        missing = [n for n in DISTRIBUTED_ENV if not os.environ.get(n)]
        if missing:
            raise SystemExit(f"owncast-api-tests: --distributed needs {', '.join(missing)}")
        env.update({n: os.environ[n] for n in DISTRIBUTED_ENV})
        env["DATABASE_URL"] = stack.enter_context(scratch_database(env["DATABASE_URL"]))
    password = secrets.token_urlsafe(18)
    manage(env, "migrate", "--noinput", "-v0")
    create_admin(env, password)
    start_castcore(stack, args, env, work, port)
    if wait_for_health(f"{base}/api/v1/system/health", 60)[0] != 200:
        raise SystemExit("owncast-api-tests: CastCore is not healthy")
    stream = set_up_stream(base, password, key)
    path = f"/api/v1/live-streams/{stream['id']}"
    video = None if args.lavfi else find_video(tests)
    print(f"owncast-api-tests: CastCore at {base}, publishing {video or 'lavfi testsrc'} "
          f"to the stream {SLUG!r}", flush=True)  # fmt: skip
    ingest = f"rtmp://127.0.0.1:{env['CASTCORE_RTMP_PORT']}/live/{key}"
    publisher = stack.enter_context(
        started(publisher_argv(video, ingest), env, work / "ffmpeg.log")
    )

    def live() -> Any:
        if publisher.poll() is not None:
            raise SystemExit("owncast-api-tests: ffmpeg exited (ffmpeg.log says why)")
        state = call(base, "GET", path, None, stream["token"])
        return state["state"] == "live" and (state["session"] or {}).get("width")

    wait(live, 60, "the stream live with its inbound details")
    owncast_base = base if args.base == "root" else f"{base}/owncast/{SLUG}"
    copy_tests(tests, work / "api", owncast_base, key)
    code, results, strays = run_jest(work / "api", work, args.jest_args)
    if results is None:
        print(f"owncast-api-tests: jest wrote no results (exit {code})")
    else:
        print("\n".join(summarise(results, work / "api", strays)))
        if args.json:
            args.json.write_text(json.dumps(results))
    if args.hold:
        print(f"owncast-api-tests: holding {owncast_base} (admin password: the key in "
              f"{work / 'api'}/admin.test.js); Ctrl-C to stop", flush=True)  # fmt: skip
        with suppress(KeyboardInterrupt):
            signal.pause()
    return code


def run(args: argparse.Namespace) -> int:
    tests = args.tests.resolve()
    if not (tests / "node_modules" / ".bin" / "jest").exists():
        raise SystemExit(f"owncast-api-tests: no jest in {tests}/node_modules (run npm ci there)")
    work = Path(tempfile.mkdtemp(prefix="owncast-api-tests-"))
    port = free_port()
    env = {
        **embedded_env(work / "var"),
        "CASTCORE_RTMP_PORT": str(free_port()),
        "CASTCORE_RTMP_BIND": "127.0.0.1",
        "CASTCORE_RTMP_CONTROL_PORT": str(free_port()),
        "CASTCORE_RTMP_CALLBACK_URL": f"http://127.0.0.1:{port}",
        # The instance's default Owncast stream, served at the host root.
        "CASTCORE_OWNCAST_DEFAULT_STREAM": SLUG,
    }
    key = secrets.token_urlsafe(24)
    try:
        with ExitStack() as stack:
            code = bring_up_and_run(stack, args, env, work, port, key)
    except BaseException:
        print(f"owncast-api-tests: stopped early; the logs are in {work}", file=sys.stderr)
        raise
    leaks = [
        f"{log.name}: {leak}"
        for log in sorted(work.glob("*.log"))
        if log.name != "ffmpeg.log"  # the publisher's own URL holds the key
        for leak in secrets_in_log(log, key)
    ]
    print(f"owncast-api-tests: secrets in CastCore's logs: {', '.join(leaks) or 'none'}")
    if args.keep:
        print(f"owncast-api-tests: kept {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    return code


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("tests", type=Path, help="a copy of Owncast's test/automated/api")
    parser.add_argument("--base", choices=("root", "stream"), default="root")
    parser.add_argument(
        "--distributed",
        action="store_true",
        help="PostgreSQL and Redis (DATABASE_URL, REDIS_URL, SECRET_KEY, CASTCORE_FERNET_KEYS): "
        "web, a worker, beat and nginx-rtmp as separate processes, on a scratch database",
    )
    parser.add_argument("--lavfi", action="store_true", help="publish testsrc, not test.mp4")
    parser.add_argument("--json", type=Path, help="also write jest's JSON results here")
    parser.add_argument("--keep", action="store_true", help="keep the work folder and logs")
    parser.add_argument("--hold", action="store_true", help="stay up after the run")
    parser.add_argument("jest_args", nargs="*", help="after --: more arguments for jest")
    return run(parser.parse_args())


if __name__ == "__main__":
    sys.exit(main())
