"""Encoding settings: codecs, rate control and the allow-listed encoder options."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from workers.ffmpeg.checks import SpecError
from workers.ffmpeg.checks import check_range as _check_range


class VideoCodec(StrEnum):
    COPY = "copy"
    LIBX264 = "libx264"
    LIBX265 = "libx265"
    H264_NVENC = "h264_nvenc"
    HEVC_NVENC = "hevc_nvenc"
    H264_QSV = "h264_qsv"
    HEVC_QSV = "hevc_qsv"
    H264_VAAPI = "h264_vaapi"
    HEVC_VAAPI = "hevc_vaapi"

    @property
    def family(self) -> str:
        """Encoders in one family accept the same presets and tunes."""
        if self in (VideoCodec.LIBX264, VideoCodec.LIBX265):
            return "x26x"
        return self.value.rsplit("_", 1)[-1]  # nvenc, qsv, vaapi, copy

    @property
    def is_hevc(self) -> bool:
        return self in (
            VideoCodec.LIBX265,
            VideoCodec.HEVC_NVENC,
            VideoCodec.HEVC_QSV,
            VideoCodec.HEVC_VAAPI,
        )


class AudioCodec(StrEnum):
    COPY = "copy"
    NONE = "none"  # drop audio (-an)
    AAC = "aac"
    LIBOPUS = "libopus"
    LIBMP3LAME = "libmp3lame"


class RateControl(StrEnum):
    CBR = "cbr"
    VBR = "vbr"
    CRF = "crf"


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_PRESETS: dict[str, frozenset[str]] = {
    "x26x": _words("ultrafast superfast veryfast faster fast medium slow slower veryslow placebo"),
    "nvenc": _words("p1 p2 p3 p4 p5 p6 p7 default slow medium fast hp hq ll llhq llhp"),
    "qsv": _words("veryfast faster fast medium slow slower veryslow"),
    "vaapi": frozenset(),  # VAAPI has no preset option
}
_TUNES: dict[str, frozenset[str]] = {
    "x26x": _words("film animation grain stillimage fastdecode zerolatency psnr ssim"),
    "nvenc": _words("hq ll ull lossless"),
    "qsv": frozenset(),
    "vaapi": frozenset(),
}
_H264_PROFILES = _words("baseline main high high10 high422 high444p constrained_baseline")
_HEVC_PROFILES = _words("main main10 mainstillpicture rext")
_PIX_FMTS = _words("yuv420p yuv422p yuv444p nv12 yuv420p10le p010le")
_LEVEL_RE = re.compile(r"^[1-6](\.[0-2])?$")
_VAAPI_DEVICE_RE = re.compile(r"^/dev/dri/renderD\d{3}$")


@dataclass(frozen=True)
class ProfileSpec:
    """Encoding settings; bitrates are kbit/s, keyframe interval in seconds."""

    video_codec: VideoCodec = VideoCodec.LIBX264
    preset: str | None = "veryfast"
    rate_control: RateControl = RateControl.CBR
    video_bitrate_kbps: int | None = 4500
    maxrate_kbps: int | None = None
    bufsize_kbps: int | None = None
    crf: int | None = None
    width: int | None = None
    height: int | None = None
    fps: float | None = None
    keyframe_interval_s: float | None = 2.0
    audio_codec: AudioCodec = AudioCodec.AAC
    audio_bitrate_kbps: int | None = 128
    audio_sample_rate: int | None = 48000
    audio_channels: int | None = 2
    # Allow-listed extras; each is checked against a fixed vocabulary.
    tune: str | None = None
    profile: str | None = None
    pix_fmt: str | None = None
    level: str | None = None
    vaapi_device: str = "/dev/dri/renderD128"

    def __post_init__(self) -> None:
        VideoCodec(self.video_codec)
        AudioCodec(self.audio_codec)
        RateControl(self.rate_control)
        _check_range("video_bitrate_kbps", self.video_bitrate_kbps, 50, 200_000)
        _check_range("maxrate_kbps", self.maxrate_kbps, 50, 200_000)
        _check_range("bufsize_kbps", self.bufsize_kbps, 50, 400_000)
        _check_range("crf", self.crf, 0, 51)
        _check_range("width", self.width, 16, 7680)
        _check_range("height", self.height, 16, 4320)
        _check_range("fps", self.fps, 1, 240)
        _check_range("keyframe_interval_s", self.keyframe_interval_s, 0.1, 60)
        _check_range("audio_bitrate_kbps", self.audio_bitrate_kbps, 8, 512)
        _check_range("audio_channels", self.audio_channels, 1, 8)
        if self.audio_sample_rate is not None and self.audio_sample_rate not in (
            8000,
            11025,
            16000,
            22050,
            24000,
            32000,
            44100,
            48000,
            96000,
        ):
            raise SpecError("spec.invalid_sample_rate", value=self.audio_sample_rate)
        for dim in ("width", "height"):
            value = getattr(self, dim)
            if value is not None and value % 2:
                raise SpecError("spec.odd_dimension", field=dim)  # 4:2:0 needs even sizes
        if self.video_codec is VideoCodec.COPY:
            return
        family = self.video_codec.family
        if self.preset is not None and self.preset not in _PRESETS[family]:
            raise SpecError("spec.invalid_preset", codec=self.video_codec.value, value=self.preset)
        if self.tune is not None and self.tune not in _TUNES[family]:
            raise SpecError("spec.invalid_tune", codec=self.video_codec.value, value=self.tune)
        profiles = _HEVC_PROFILES if self.video_codec.is_hevc else _H264_PROFILES
        if self.profile is not None and self.profile not in profiles:
            raise SpecError("spec.invalid_profile", value=self.profile)
        if self.pix_fmt is not None and self.pix_fmt not in _PIX_FMTS:
            raise SpecError("spec.invalid_pix_fmt", value=self.pix_fmt)
        if self.level is not None and not _LEVEL_RE.match(self.level):
            raise SpecError("spec.invalid_level", value=self.level)
        if not _VAAPI_DEVICE_RE.match(self.vaapi_device):
            raise SpecError("spec.invalid_vaapi_device")
        if self.rate_control in (RateControl.CBR, RateControl.VBR) and not self.video_bitrate_kbps:
            raise SpecError("spec.bitrate_required", rate_control=self.rate_control.value)
        if self.rate_control is RateControl.CRF and self.crf is None:
            raise SpecError("spec.crf_required")

    @property
    def has_video_filters(self) -> bool:
        return self.width is not None or self.height is not None or self.fps is not None
