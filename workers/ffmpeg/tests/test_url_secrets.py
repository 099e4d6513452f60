"""The stream key in an RTMP URL's path is one of the URL's secrets: masked wherever shown."""

from __future__ import annotations

import pytest

from workers.ffmpeg.masking import mask_argv, mask_url
from workers.ffmpeg.spec import RtmpOutput
from workers.ffmpeg.urls import url_secrets


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("rtmp://a.rtmp.example/live2/abcd-efgh-ijkl-mnop", "rtmp://a.rtmp.example/live2/••••mnop"),
        ("rtmps://h:443/app/inst/live_12345_abcdef?x=1", "rtmps://h:443/app/inst/••••cdef?x=1"),
        ("rtmp://h/live2/abcd-efgh-ijkl-mnop/", "rtmp://h/live2/••••mnop/"),
        ("rtmp://h/app/key%2Fwith%2Fslash", "rtmp://h/app/••••lash"),
        ("rtmp://u:UserPassword9@h/app/streamkey42", "rtmp://u:••••ord9@h/app/••••"),
    ],
)  # fmt: skip
def test_the_key_in_an_rtmp_path_is_masked(url: str, masked: str) -> None:
    assert mask_url(url) == masked
    assert mask_url(masked) == masked  # what the API shows, sent back, stays as it is
    for secret in url_secrets(url):
        assert secret not in masked


@pytest.mark.parametrize(
    "url", ["rtmp://h/app", "rtmp://h/live/x", "rtmp://h/live/cam1", "srt://h:1/live/longname1"]
)
def test_an_application_or_a_short_stream_name_is_not_a_key(url: str) -> None:
    assert mask_url(url) == url
    assert url_secrets(url) == ()


def test_the_argv_masks_a_key_written_in_the_output_path() -> None:
    output = RtmpOutput(url="rtmp://h/live2/abcd-efgh-ijkl-mnop", stream_key="")
    argv = ["ffmpeg", "-f", "flv", output.url]
    assert mask_argv(argv, output.secrets())[-1] == "rtmp://h/live2/••••mnop"
