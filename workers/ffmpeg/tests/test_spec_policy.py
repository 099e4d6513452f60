"""The engine's target policy: paths resolved under roots, refused hosts, masked URLs."""

from __future__ import annotations

from pathlib import Path

import pytest

from workers.ffmpeg import addresses
from workers.ffmpeg.masking import mask_url
from workers.ffmpeg.policy import TargetPolicy, checked_input, checked_output
from workers.ffmpeg.spec import FileInput, FileOutput, HlsOutput, SpecError, UdpOutput, UrlInput
from workers.ffmpeg.urls import url_secrets


def test_a_path_is_resolved_before_it_is_compared(tmp_path: Path) -> None:
    policy = TargetPolicy(output_roots=(str(tmp_path / "out"),))
    ok = checked_output(FileOutput(path=f"{tmp_path}/out/a/../b.mkv"), policy)
    assert ok == FileOutput(path=f"{tmp_path}/out/b.mkv")  # ffmpeg opens what was checked
    with pytest.raises(SpecError) as caught:
        checked_output(FileOutput(path=f"{tmp_path}/out/../x.mkv"), policy)
    assert caught.value.code == "stream_job.path_not_allowed"
    assert caught.value.params == {
        "field": "output.path",
        "reason": "outside_roots",
        "allowed_roots": [f"{tmp_path}/out"],
    }


def test_a_root_prefix_is_not_a_root(tmp_path: Path) -> None:
    policy = TargetPolicy(output_roots=(str(tmp_path / "out"),))
    with pytest.raises(SpecError):
        checked_output(HlsOutput(directory=f"{tmp_path}/outside"), policy)


def test_protected_paths_win_over_roots(tmp_path: Path) -> None:
    policy = TargetPolicy(output_roots=("/",), input_roots=("/",), protected=(str(tmp_path),))
    for path in (f"{tmp_path}/db.sqlite3", "/etc/passwd", "/proc/self/mem", "/x/.ssh/keys"):
        with pytest.raises(SpecError):
            checked_output(FileOutput(path=path), policy)
        with pytest.raises(SpecError):
            checked_input(FileInput(path=path), policy)


def test_link_local_hosts_are_refused_unless_allowed() -> None:
    output = UdpOutput(url="udp://169.254.169.254:1")
    source = UrlInput(url="http://[fe80::1%25eth0]/x")
    with pytest.raises(SpecError) as caught:
        checked_output(output, TargetPolicy())
    assert caught.value.params == {
        "field": "output.url",
        "host": "169.254.169.254",
        "reason": "link_local",
    }
    with pytest.raises(SpecError) as caught:
        checked_input(source, TargetPolicy())
    assert caught.value.code == "stream_job.address_not_allowed"
    allowed = TargetPolicy(addresses=addresses.AddressPolicy(allow_link_local=True))
    assert checked_output(output, allowed) == output
    assert checked_input(source, allowed) == source


def test_addresses_catch_embedded_and_numeric_forms() -> None:
    assert addresses.refused_address("[::ffff:a9fe:a9fe]") == "::ffff:a9fe:a9fe"
    assert addresses.refused_address("169.254.169.254.") == "169.254.169.254"
    assert addresses.refused_address("2852039166") == "169.254.169.254"
    assert addresses.refused_address("127.0.0.1") is None
    assert addresses.refused_address("10.1.2.3") is None


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("srt://h:9000?passphrase=SrtPassInUrl123&streamid=sid-secret-999",
         "srt://h:9000?passphrase=••••l123&streamid=••••-999"),
        ("rtmp://bob:RtmpUserPw77@h/app", "rtmp://bob:••••Pw77@h/app"),
        ("srt://h:1?streamid=#!::r=live/secretkey,m=publish&latency=200",
         "srt://h:1?streamid=••••lish&latency=200"),
        ("https://h/a.m3u8?X-Amz-Signature=abcdef0123456789&a=1", "https://h/a.m3u8?X-Amz-Signature=••••6789&a=1"),
        ("https://tok@h/a", "https://••••@h/a"),
        ("udp://h:1234?pkt_size=1316", "udp://h:1234?pkt_size=1316"),
        ("rtmp://h/app", "rtmp://h/app"),
    ],
)  # fmt: skip
def test_mask_url_hides_credentials_and_keeps_the_rest(url: str, masked: str) -> None:
    assert mask_url(url) == masked
    assert mask_url(url) == mask_url(url)  # deterministic: a client can send it back
    for secret in url_secrets(url):
        assert secret not in mask_url(url) or len(secret) < 4
