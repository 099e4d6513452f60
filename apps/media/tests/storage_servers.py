"""Real storage servers on 127.0.0.1 for the storage backend tests.

Import the fixtures into a test module (`from .storage_servers import s3_server`);
they are session-scoped, so each server starts once per test run.
"""

from __future__ import annotations

import contextlib
import getpass
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def closed_port() -> int:
    """A loopback port nothing listens on (connections are refused)."""
    return free_port()


def wait_for_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited early with {proc.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


def stop(proc: subprocess.Popen[bytes]) -> None:
    """Stop a server started with start_new_session=True, with the children it forked."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)


def make_media(path: Path, *, seconds: int, size: str = "160x120") -> Path:
    subprocess.run(
        [
            *("ffmpeg", "-hide_banner", "-loglevel", "error", "-y"),
            *("-f", "lavfi", "-i", f"testsrc=duration={seconds}:size={size}:rate=25"),
            *("-f", "lavfi", "-i", f"sine=duration={seconds}", "-shortest"),
            *("-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", str(path)),
        ],
        check=True,
        timeout=60,
    )
    return path


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """clip1.mp4 (1 s), shows/clip2.mp4 (2 s) and notes.txt: small real media."""
    root = tmp_path_factory.mktemp("media")
    make_media(root / "clip1.mp4", seconds=1)
    (root / "shows").mkdir()
    make_media(root / "shows" / "clip2.mp4", seconds=2)
    (root / "notes.txt").write_text("not media\n")
    return root


# --- S3 (moto in server mode, a separate process) ---------------------------------------


@dataclass
class S3Server:
    endpoint: str
    region: str
    bucket: str
    access_key: str
    secret_key: str

    def set_auth(self, enforced: bool) -> None:
        """Switch moto's signature/IAM checks on or off (its /moto-api/reset-auth).

        moto 5.2 cannot verify presigned (query-string) requests while auth is
        enforced (it answers 500), so presigned reads run with auth off.
        """
        request = urllib.request.Request(  # noqa: S310 (a loopback http URL we built)
            f"{self.endpoint}/moto-api/reset-auth",
            data=b"0" if enforced else b"inf",
            method="POST",
            headers={"Content-Type": "text/plain"},
        )
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
            if response.status != 200:
                raise RuntimeError(f"moto reset-auth answered {response.status}")

    @contextlib.contextmanager
    def auth_disabled(self) -> Iterator[None]:
        self.set_auth(False)
        try:
            yield
        finally:
            self.set_auth(True)


@pytest.fixture(scope="session")
def s3_server(media_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    port = free_port()
    log = (tmp_path_factory.mktemp("moto") / "moto.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_for_port(port, proc)
        endpoint = f"http://127.0.0.1:{port}"
        # Auth is off until set_auth(True): set up an IAM user, its key and the bucket.
        admin = {
            "endpoint_url": endpoint,
            "region_name": "us-east-1",
            "aws_access_key_id": "setup",
            "aws_secret_access_key": "setup",
        }
        iam = boto3.client("iam", **admin)
        iam.create_user(UserName="castcore")
        key = iam.create_access_key(UserName="castcore")["AccessKey"]
        policy = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
        }
        iam.put_user_policy(
            UserName="castcore", PolicyName="media", PolicyDocument=json.dumps(policy)
        )
        s3 = boto3.client("s3", **admin)
        s3.create_bucket(Bucket="media")
        s3.create_bucket(Bucket="empty")
        for rel in ("clip1.mp4", "shows/clip2.mp4", "notes.txt"):
            s3.upload_file(str(media_dir / rel), "media", f"library/{rel}")
        s3.put_object(Bucket="media", Key="elsewhere/other.mp4", Body=b"x")
        server = S3Server(
            endpoint, "us-east-1", "media", key["AccessKeyId"], key["SecretAccessKey"]
        )
        server.set_auth(True)
        yield server
    finally:
        stop(proc)
        log.close()


# --- SMB (Debian's smbd in the foreground, everything in a tmp dir) --------------------


@dataclass
class SMBServer:
    host: str
    port: int
    share: str
    username: str
    password: str
    share_dir: Path


SMB_CONF = """[global]
  workgroup = WORKGROUP
  netbios name = CASTCORETEST
  server role = standalone server
  smb ports = {port}
  interfaces = lo
  bind interfaces only = yes
  private dir = {d}/private
  lock directory = {d}/lock
  state directory = {d}/state
  cache directory = {d}/cache
  pid directory = {d}/pid
  ncalrpc dir = {d}/ncalrpc
  log file = {d}/log.%m
  passdb backend = tdbsam:{d}/private/passdb.tdb
  load printers = no
  printcap name = /dev/null
  disable spoolss = yes
  server min protocol = SMB2_02
[media]
  path = {share}
  read only = yes
  valid users = {user}
"""


@pytest.fixture(scope="session")
def smb_server(media_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SMBServer]:
    if shutil.which("smbd", path="/usr/sbin:/usr/bin") is None:
        pytest.skip("smbd is not installed (apt-get install samba)")
    if os.geteuid() != 0:
        # smbd switches to the logged-in user's uid for file access: that needs root.
        pytest.skip("smbd needs root to serve a share")
    base = tmp_path_factory.mktemp("smb")
    for sub in ("private", "lock", "state", "cache", "pid", "ncalrpc"):
        (base / sub).mkdir()
    share = base / "share"
    shutil.copytree(media_dir, share)
    port = free_port()
    # A Samba account must map to a Unix user; reuse the one running the tests
    # rather than adding a user to the machine.
    user, password = getpass.getuser(), "Smb-test-pw-1"
    conf = base / "smb.conf"
    conf.write_text(SMB_CONF.format(port=port, d=base, share=share, user=user))
    subprocess.run(
        ["smbpasswd", "-c", str(conf), "-s", "-a", user],
        input=f"{password}\n{password}\n".encode(),
        check=True,
        capture_output=True,
        timeout=10,
    )
    proc = subprocess.Popen(
        ["smbd", "--foreground", "--no-process-group", "-s", str(conf)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # smbd forks one child per client: stop them all
    )
    try:
        wait_for_port(port, proc)
        yield SMBServer("127.0.0.1", port, "media", user, password, share)
    finally:
        stop(proc)


# --- a real mount without a network filesystem ---------------------------------------


@pytest.fixture
def tmpfs_mount(tmp_path: Path) -> Iterator[Path]:
    """base dir whose source '5' is a real tmpfs mount (stands in for a mounted share)."""
    target = tmp_path / "5"
    target.mkdir()
    proc = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(target)],
        capture_output=True,
        text=True,
        timeout=10,
    )
    if proc.returncode != 0:
        pytest.skip(f"cannot mount tmpfs here: {proc.stderr.strip()}")
    yield tmp_path
    subprocess.run(["umount", "-l", str(target)], capture_output=True, timeout=10)
