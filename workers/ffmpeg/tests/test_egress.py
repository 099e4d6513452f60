"""The egress proxy against real ffmpeg and ffprobe: redirects, HLS segments and https.

127.0.0.2 stands for a refused address (the tests add it to the policy); a
second server listens there, so a test can tell whether anything reached it.
Each refusal test also runs the same command without the proxy first: that one
must reach the refused server, or the test would prove nothing.
"""

from __future__ import annotations

import datetime
import functools
import http.server
import ipaddress
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from workers.ffmpeg import addresses
from workers.ffmpeg.egress import REFUSED_REASON, child_env, proxy_url
from workers.ffmpeg.logs import LogClassifier
from workers.ffmpeg.probe import ProbeError, probe
from workers.ffmpeg.thumbnail import ThumbnailError, make_thumbnail

REFUSED_NET = ipaddress.ip_network("127.0.0.2/32")


class Site:
    """A static HTTP(S) server that records every request line and its headers."""

    def __init__(self, root: Path, host: str, tls: ssl.SSLContext | None = None) -> None:
        self.requests: list[tuple[str, dict[str, str]]] = []
        site = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                site.requests.append(
                    (self.requestline, {k.lower(): v for k, v in self.headers.items()})
                )
                if self.path.startswith("/to/"):  # /to/<url>: a redirect there
                    self.send_response(302)
                    self.send_header("Location", self.path[len("/to/") :])
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                super().do_GET()

        self.server = http.server.ThreadingHTTPServer(
            (host, 0), functools.partial(Handler, directory=str(root))
        )
        if tls is not None:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        scheme = "https" if tls else "http"
        self.base = f"{scheme}://{host}:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("site")
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "lavfi",
         "-i", "testsrc=size=160x120:rate=10:duration=1", "-f", "mpegts", str(root / "clip.ts")],
        check=True, timeout=60,
    )  # fmt: skip
    return root


@pytest.fixture
def refused_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        addresses, "NOT_ALLOWED_NETWORKS", (*addresses.NOT_ALLOWED_NETWORKS, REFUSED_NET)
    )


@pytest.fixture
def sites(media: Path, refused_loopback: None) -> Iterator[tuple[Site, Site]]:
    allowed, refused = Site(media, "127.0.0.1"), Site(media, "127.0.0.2")
    yield allowed, refused
    allowed.close()
    refused.close()


def read(url: str, *, proxied: bool = True) -> subprocess.CompletedProcess[str]:
    argv = ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "level+warning",
            "-protocol_whitelist", "hls,http,https,tcp,tls,crypto,httpproxy", "-rw_timeout",
            "5000000", *(["-http_proxy", proxy_url()] if proxied else []),
            "-i", url, "-f", "null", "-"]  # fmt: skip
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, env=child_env())


def hint_codes(stderr: str) -> set[str]:
    classifier = LogClassifier(())
    return {code for line in stderr.splitlines() if (code := classifier.classify(line).hint_code)}


def test_an_http_input_is_read_through_the_proxy_in_origin_form(sites: tuple[Site, Site]) -> None:
    allowed, _ = sites
    done = read(f"{allowed.base}/clip.ts")
    assert done.returncode == 0, done.stderr
    request_line, headers = allowed.requests[-1]
    assert request_line == "GET /clip.ts HTTP/1.1"  # not the absolute form meant for a proxy
    assert headers["connection"] == "close" and "proxy-connection" not in headers


def test_a_redirect_to_a_refused_address_is_not_followed(sites: tuple[Site, Site]) -> None:
    allowed, refused = sites
    url = f"{allowed.base}/to/{refused.base}/clip.ts"
    assert read(url, proxied=False).returncode == 0 and len(refused.requests) == 1  # the hole
    done = read(url)
    assert done.returncode != 0
    assert REFUSED_REASON in done.stderr
    # ffmpeg's "Server returned 403" after it is the same refusal, not bad credentials.
    assert hint_codes(done.stderr) == {"ffmpeg.address_not_allowed"}
    assert len(refused.requests) == 1  # nothing more reached it


def test_hls_segments_on_a_refused_address_are_not_fetched(
    sites: tuple[Site, Site], media: Path
) -> None:
    allowed, refused = sites
    (media / "mixed.m3u8").write_text(
        "#EXTM3U\n#EXT-X-TARGETDURATION:1\n"
        f"#EXTINF:1,\n{refused.base}/clip.ts\n#EXTINF:1,\n{allowed.base}/clip.ts\n"
        "#EXT-X-ENDLIST\n"
    )
    assert read(f"{allowed.base}/mixed.m3u8", proxied=False).returncode == 0
    assert len(refused.requests) == 1
    done = read(f"{allowed.base}/mixed.m3u8")
    assert REFUSED_REASON in done.stderr
    assert len(refused.requests) == 1
    assert ("GET /clip.ts HTTP/1.1") in [line for line, _ in allowed.requests]  # the other one


def _tls_context(tmp_path: Path) -> ssl.SSLContext:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "castcore-test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    return context


def test_https_is_tunnelled_to_allowed_addresses_only(
    media: Path, refused_loopback: None, tmp_path: Path
) -> None:
    tls = _tls_context(tmp_path)
    allowed, refused = Site(media, "127.0.0.1", tls), Site(media, "127.0.0.2", tls)
    try:
        done = read(f"{allowed.base}/clip.ts")
        assert done.returncode == 0, done.stderr
        assert allowed.requests[-1][0] == "GET /clip.ts HTTP/1.1"
        # A caller's own whitelist (S3's, say) gets the httpproxy protocol the tunnel needs.
        s3_whitelist = ("http", "https", "tls", "tcp", "crypto")
        assert probe(f"{allowed.base}/clip.ts", timeout=30, protocols=s3_whitelist).has_video
        done = read(f"{refused.base}/clip.ts")
        assert done.returncode != 0 and REFUSED_REASON in done.stderr
        assert refused.requests == []
    finally:
        allowed.close()
        refused.close()


def test_a_name_is_checked_by_what_it_resolves_to(
    media: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = Site(media, "127.0.0.1")
    try:
        port = site.server.server_address[1]
        assert read(f"http://localhost:{port}/clip.ts").returncode == 0
        monkeypatch.setattr(
            addresses,
            "NOT_ALLOWED_NETWORKS",
            (*addresses.NOT_ALLOWED_NETWORKS, ipaddress.ip_network("127.0.0.1/32")),
        )
        before = len(site.requests)
        done = read(f"http://localhost:{port}/clip.ts")
        assert done.returncode != 0 and REFUSED_REASON in done.stderr
        assert len(site.requests) == before
    finally:
        site.close()


def test_ffprobe_goes_through_the_proxy_too(
    sites: tuple[Site, Site], monkeypatch: pytest.MonkeyPatch
) -> None:
    allowed, refused = sites
    # With these, ffmpeg would connect directly to every host: its children never get them.
    monkeypatch.setenv("no_proxy", "*")
    monkeypatch.setenv("NO_PROXY", "*")
    assert probe(f"{allowed.base}/clip.ts", timeout=30).has_video
    with pytest.raises(ProbeError) as refusal:
        probe(f"{allowed.base}/to/{refused.base}/clip.ts", timeout=30)
    assert refusal.value.code == "probe.address_not_allowed"  # what preflight reports
    assert refused.requests == []


def test_thumbnails_go_through_the_proxy_too(sites: tuple[Site, Site], tmp_path: Path) -> None:
    allowed, refused = sites
    thumb = make_thumbnail(f"{allowed.base}/clip.ts", tmp_path / "ok.jpg", duration=1.0)
    assert thumb.stat().st_size > 0
    with pytest.raises(ThumbnailError) as refusal:
        make_thumbnail(
            f"{allowed.base}/to/{refused.base}/clip.ts", tmp_path / "no.jpg", duration=1.0
        )
    assert refusal.value.code == "thumbnail.address_not_allowed"
    assert refused.requests == [] and not (tmp_path / "no.jpg").exists()


def _ask(raw: bytes) -> bytes:
    host, port = proxy_url().removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        conn.sendall(raw)
        return conn.recv(4096)


def test_the_proxy_only_reads(sites: tuple[Site, Site]) -> None:
    allowed, _ = sites
    post = f"POST {allowed.base}/clip.ts HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi"
    assert _ask(post.encode()).startswith(b"HTTP/1.1 405 ")
    assert _ask(b"GET ftp://127.0.0.1/x HTTP/1.1\r\n\r\n").startswith(b"HTTP/1.1 400 ")
    assert _ask(b"CONNECT 169.254.169.254:80 HTTP/1.1\r\n\r\n").startswith(b"HTTP/1.1 403 ")
    huge = b"GET http://127.0.0.1/ HTTP/1.1\r\nX: " + b"a" * 70_000 + b"\r\n\r\n"
    assert _ask(huge).startswith(b"HTTP/1.1 431 ")
    assert allowed.requests == []


def test_odd_ports_are_refused_not_crashed_on(sites: tuple[Site, Site]) -> None:
    for request in (
        b"CONNECT 127.0.0.1:99999 HTTP/1.1\r\n\r\n",
        "CONNECT 127.0.0.1:\u00b2 HTTP/1.1\r\n\r\n".encode(),
        b"GET http://127.0.0.1:99999/clip.ts HTTP/1.1\r\n\r\n",
        b"GET http://127.0.0.1:x/clip.ts HTTP/1.1\r\n\r\n",
    ):
        assert _ask(request).startswith(b"HTTP/1.1 400 "), request


def test_a_tunnel_ends_with_ffmpegs_side_even_if_the_server_stays_silent(
    refused_loopback: None,
) -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        accepted: list[socket.socket] = []
        threading.Thread(target=lambda: accepted.append(server.accept()[0]), daemon=True).start()
        host, proxy_port = proxy_url().removeprefix("http://").split(":")
        with socket.create_connection((host, int(proxy_port)), timeout=10) as client:
            client.sendall(f"CONNECT 127.0.0.1:{port} HTTP/1.1\r\n\r\n".encode())
            assert client.recv(100).startswith(b"HTTP/1.1 200 ")
            assert _proxy_sockets_to(port)  # the tunnel's far side, held by the proxy
        # ffmpeg hung up; the server says nothing and keeps its side open.
        deadline = time.monotonic() + 10
        while _proxy_sockets_to(port) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _proxy_sockets_to(port), "the proxy kept its connection to the server"
        for conn in accepted:
            conn.close()


def _proxy_sockets_to(port: int) -> list[object]:
    """This process's sockets (the proxy runs in it) connected to `port`."""
    return [c for c in psutil.Process().net_connections("tcp") if c.raddr and c.raddr.port == port]
