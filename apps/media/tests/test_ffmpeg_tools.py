"""How ffprobe and ffmpeg runs fail: one plumbing (run_tool, ToolError) for probe and thumbnail.

(These would sit in workers/ffmpeg/tests/, which the media app's owners do not edit.)
"""

from __future__ import annotations

from pathlib import Path

import pytest

from workers.ffmpeg.probe import ProbeError, ProbeErrorCode, ToolError, probe, run_tool
from workers.ffmpeg.thumbnail import ThumbnailError, ThumbnailErrorCode, make_thumbnail


@pytest.mark.parametrize(
    ("error", "timeout_code", "unavailable_code"),
    [
        (ProbeError, ProbeErrorCode.TIMEOUT, ProbeErrorCode.UNAVAILABLE),
        (ThumbnailError, ThumbnailErrorCode.TIMEOUT, ThumbnailErrorCode.UNAVAILABLE),
    ],
)
def test_a_hung_or_missing_tool_raises_the_callers_codes(
    error: type[ToolError], timeout_code: str, unavailable_code: str
) -> None:
    with pytest.raises(error) as hung:
        run_tool(["sleep", "5"], timeout=0.2, error=error)
    assert hung.value.code == timeout_code
    with pytest.raises(error) as missing:
        run_tool(["/nonexistent/ffmpeg"], timeout=5, error=error)
    assert missing.value.code == unavailable_code


def test_stderr_comes_back_decoded_and_the_detail_keeps_its_tail() -> None:
    rc, out, err = run_tool(["sh", "-c", "printf 'bad \\377 input\\n' >&2; exit 3"], timeout=5,
                            error=ProbeError)  # fmt: skip
    assert (rc, out, err) == (3, b"", "bad \ufffd input")
    assert ThumbnailError("thumbnail.failed", "x" * 600 + "reason").detail.endswith("reason")
    assert len(ThumbnailError("thumbnail.failed", "x" * 600).detail) == 500


def test_probe_and_thumbnail_report_a_missing_binary(tmp_path: Path) -> None:
    clip = tmp_path / "a.mp4"
    clip.write_bytes(b"not empty")
    with pytest.raises(ProbeError) as probed:
        probe(clip, ffprobe="/nonexistent/ffprobe")
    assert probed.value.code == ProbeErrorCode.UNAVAILABLE
    with pytest.raises(ThumbnailError) as thumbed:
        make_thumbnail(clip, tmp_path / "t.jpg", duration=1.0, ffmpeg="/nonexistent/ffmpeg")
    assert thumbed.value.code == ThumbnailErrorCode.UNAVAILABLE
    assert thumbed.value.to_dict()["code"] == "thumbnail.unavailable"
