"""Parsing and validation of asciicast v1/v2/v3 (no Django involved)."""

from __future__ import annotations

import io
import json
import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from apps.recordings.asciicast import (
    MAX_ERROR_DETAILS,
    AsciicastInvalid,
    Event,
    format_event_line,
    format_header_line,
    iter_events,
    parse_asciicast,
    parse_event_line,
)

DATA = Path(__file__).parent / "data"
LIMIT = 1_000_000
V2_HEADER = b'{"version": 2, "width": 80, "height": 24}\n'
V3_HEADER = b'{"version": 3, "term": {"cols": 80, "rows": 24}}\n'


def invalid(data: bytes, *, max_bytes: int = LIMIT) -> AsciicastInvalid:
    with pytest.raises(AsciicastInvalid) as excinfo:
        parse_asciicast(data, max_bytes=max_bytes)
    return excinfo.value


# --- real and hand-written files -------------------------------------------


def test_it_reads_a_recording_made_by_the_installed_cli() -> None:
    # Recorded with `asciinema rec -c ... -t 'Demo v2' -i 2` (2.2.0).
    cast = parse_asciicast((DATA / "real-v2.cast").read_bytes(), max_bytes=LIMIT)
    assert (cast.version, cast.width, cast.height) == (2, 80, 24)
    assert cast.title == "Demo v2"
    assert cast.idle_time_limit == 2.0
    assert cast.term_type == "xterm-256color"
    assert cast.env == {"SHELL": "/bin/bash", "TERM": "xterm-256color"}
    assert cast.event_count == 2
    assert cast.duration == pytest.approx(0.302511)
    events = list(iter_events((DATA / "real-v2.cast").read_bytes()))
    assert events[1].data.endswith("ünïcode\r\n")


def test_it_reads_a_pretty_printed_v1_document() -> None:
    cast = parse_asciicast((DATA / "hand-v1.json").read_bytes(), max_bytes=LIMIT)
    assert (cast.version, cast.cols, cast.rows) == (1, 80, 24)
    assert (cast.title, cast.command, cast.term_type) == ("v1 demo", "/bin/zsh", "xterm-256color")
    assert cast.event_count == 3
    assert cast.duration == pytest.approx(0.248848 + 1.001376 + 0.265434)
    assert "stdout" not in cast.header


def test_v1_delays_become_absolute_times() -> None:
    events = list(iter_events((DATA / "hand-v1.json").read_bytes()))
    assert [e.code for e in events] == ["o", "o", "o"]
    assert [e.time for e in events] == pytest.approx([0.248848, 1.250224, 1.515658])


def test_v1_without_frames_falls_back_to_its_duration_field() -> None:
    doc = {"version": 1, "width": 10, "height": 5, "duration": 3.5, "stdout": []}
    cast = parse_asciicast(json.dumps(doc).encode(), max_bytes=LIMIT)
    assert (cast.duration, cast.event_count) == (3.5, 0)


def test_it_reads_v3_with_comments_and_relative_intervals() -> None:
    cast = parse_asciicast((DATA / "hand-v3.cast").read_bytes(), max_bytes=LIMIT)
    assert (cast.version, cast.cols, cast.rows) == (3, 100, 30)
    assert cast.event_count == 9  # the two comment lines are not events
    assert cast.duration == pytest.approx(5.033)
    assert (cast.term_type, cast.term_version) == ("xterm-256color", "VTE(7802)")
    assert cast.theme is not None
    assert cast.theme["bg"] == "#212121"
    assert cast.tags == ("demo", "castcore")
    assert (cast.timestamp, cast.idle_time_limit, cast.exit_status) == (1764000000, 1.5, 0)
    assert (cast.command, cast.title) == ("/bin/bash", "v3 demo")


def test_v3_intervals_become_absolute_times() -> None:
    events = list(iter_events((DATA / "hand-v3.cast").read_bytes()))
    assert events[0] == Event(0.125, "o", "$ ")
    assert [e.time for e in events[:3]] == pytest.approx([0.125, 0.925, 1.045])
    assert (events[-3].code, events[-3].data) == ("r", "120x40")
    assert events[-1].time == pytest.approx(5.033)


def test_it_reads_from_a_binary_file_object() -> None:
    with (DATA / "hand-v3.cast").open("rb") as f:
        assert parse_asciicast(f, max_bytes=LIMIT).event_count == 9


def test_it_accepts_crlf_a_bom_and_blank_lines() -> None:
    data = b"\xef\xbb\xbf" + V2_HEADER.replace(b"\n", b"\r\n") + b'[1.5, "o", "x"]\r\n\r\n\n'
    cast = parse_asciicast(data, max_bytes=LIMIT)
    assert (cast.event_count, cast.duration) == (1, 1.5)


def test_unknown_event_codes_pass_through_as_the_spec_requires() -> None:
    data = V2_HEADER + b'[0.5, "z", {"any": "thing"}]\n[1.0, "o", "a"]\n'
    assert [e.code for e in iter_events(data)] == ["z", "o"]
    assert parse_asciicast(data, max_bytes=LIMIT).event_count == 2


def test_v2_nulls_in_env_are_dropped() -> None:
    data = b'{"version": 2, "width": 8, "height": 2, "env": {"TERM": null, "SHELL": "/bin/sh"}}\n'
    cast = parse_asciicast(data, max_bytes=LIMIT)
    assert cast.env == {"SHELL": "/bin/sh"}
    assert cast.term_type is None
    assert (cast.duration, cast.event_count) == (0.0, 0)


# --- garbage ----------------------------------------------------------------


def test_it_rejects_random_bytes() -> None:
    noise = random.Random(1234).randbytes(4096)
    assert invalid(noise).code in {"asciicast.not_utf8", "asciicast.bad_header"}
    assert invalid(b"\xff\xfe\x00garbage").code == "asciicast.not_utf8"


@pytest.mark.parametrize("data", [b"", b"\n\n   \r\n"])
def test_it_rejects_empty_input(data: bytes) -> None:
    assert invalid(data).code == "asciicast.empty"


@pytest.mark.parametrize(
    "data",
    [
        b'{"hello": "world"}\n',
        b"[1, 2, 3]\n",
        b'"just a string"\n',
        b"not json at all\n",
        b'{"version": "2", "width": 80, "height": 24}\n',
        b'{"version": 2, "height": 24}\n',
        b'{"version": 2, "width": 0, "height": 24}\n',
        b'{"version": 3, "width": 80, "height": 24}\n',
        b'{"version": 3, "term": {"cols": 80}}\n',
        b'{"version": 2, "width": 80, "height": 24, "title": 7}\n',
        b'# comment first\n{"version": 3, "term": {"cols": 80, "rows": 24}}\n',
        b'{"version": 1, "width": 80, "height": 24}\n',
        b'{"version": 1, "width": 80, "height": 24, "stdout": []}\n[1, "o", "x"]\n',
        b'{"version": 2,\n "width": 80, "height": 24}\n',
    ],
)
def test_it_rejects_json_that_is_not_a_cast_header(data: bytes) -> None:
    error = invalid(data)
    assert error.code == "asciicast.bad_header"
    assert error.details[0]["line"] >= 1


@pytest.mark.parametrize("version", [0, 4, 99])
def test_it_rejects_unsupported_versions(version: int) -> None:
    error = invalid(json.dumps({"version": version, "width": 1, "height": 1}).encode())
    assert error.code == "asciicast.unsupported_version"


def test_a_truncated_last_line_is_reported_with_its_line_number() -> None:
    error = invalid(V2_HEADER + b'[0.1, "o", "ok"]\n[0.2, "o", "trunc')
    assert error.code == "asciicast.bad_event"
    assert [d["line"] for d in error.details] == [3]


@pytest.mark.parametrize(
    ("line", "fragment"),
    [
        (b'[-0.5, "o", "x"]', "non-negative"),
        (b'[NaN, "o", "x"]', "JSON"),
        (b'["1.0", "o", "x"]', "non-negative number"),
        (b'[true, "o", "x"]', "non-negative number"),
        (b'[1.0, 5, "x"]', "code"),
        (b'[1.0, "", "x"]', "code"),
        (b'[1.0, null, "x"]', "code"),
        (b'[1.0, "o"]', "3-element"),
        (b'{"time": 1}', "3-element"),
        (b'[1.0, "o", 42]', "string"),
        (b'[1.0, "r", "80by24"]', "COLSxROWS"),
        (b'[1.0, "r", "0x24"]', "COLSxROWS"),
    ],
)
def test_it_rejects_bad_v2_event_lines(line: bytes, fragment: str) -> None:
    error = invalid(V2_HEADER + line + b"\n")
    assert error.code == "asciicast.bad_event"
    assert error.details[0]["line"] == 2
    assert fragment in error.details[0]["message"]


def test_v2_times_must_not_go_backwards() -> None:
    data = V2_HEADER + b'[1.0, "o", "a"]\n[2.0, "o", "b"]\n[1.5, "o", "c"]\n[2.0, "o", "d"]\n'
    error = invalid(data)
    assert [d["line"] for d in error.details] == [4]
    assert "before the previous event" in error.details[0]["message"]


@pytest.mark.parametrize(
    "line",
    [b'[-0.1, "o", "x"]', b'[0.1, "x", "zero"]', b'[0.1, "x", "-1"]', b'[0.1, "q", {"a": 1}]'],
)
def test_it_rejects_bad_v3_event_lines(line: bytes) -> None:
    error = invalid(V3_HEADER + b"# fine\n" + line + b"\n")
    assert error.code == "asciicast.bad_event"
    assert error.details[0]["line"] == 3


def test_v3_intervals_may_repeat_and_be_zero() -> None:
    data = V3_HEADER + b'[0.5, "o", "a"]\n[0, "o", "b"]\n[0.5, "o", "c"]\n'
    assert parse_asciicast(data, max_bytes=LIMIT).duration == pytest.approx(1.0)


def test_it_reports_several_bad_lines_but_stops_at_the_cap() -> None:
    bad = b'[1.0, 7, "x"]\n' * (MAX_ERROR_DETAILS + 30)
    error = invalid(V2_HEADER + b'[0.5, "o", "fine"]\n' + bad)
    assert len(error.details) == MAX_ERROR_DETAILS
    assert [d["line"] for d in error.details[:3]] == [3, 4, 5]


def test_a_bad_v1_frame_is_a_bad_event() -> None:
    doc = {"version": 1, "width": 80, "height": 24, "stdout": [[0.1, "a"], [-1, "b"], [0.1]]}
    error = invalid(json.dumps(doc).encode())
    assert error.code == "asciicast.bad_event"
    assert [d["message"][:9] for d in error.details] == ["stdout[1]", "stdout[2]"]


def test_invalid_utf8_on_a_later_line_names_that_line() -> None:
    error = invalid(V2_HEADER + b'[0.1, "o", "ok"]\n[0.2, "o", "\xc3\x28"]\n')
    assert error.code == "asciicast.not_utf8"
    assert error.details[0]["line"] == 3


def test_too_large_bytes_are_rejected_before_parsing() -> None:
    data = V2_HEADER + b'[0.1, "o", "x"]\n' * 100
    assert invalid(data, max_bytes=len(data) - 1).code == "asciicast.too_large"
    assert parse_asciicast(data, max_bytes=len(data)).event_count == 100


def test_too_large_streams_are_not_read_to_the_end() -> None:
    stream = io.BytesIO(V2_HEADER + b"x" * 10_000_000)  # one huge line, no newline
    with pytest.raises(AsciicastInvalid) as excinfo:
        parse_asciicast(stream, max_bytes=1000)
    assert excinfo.value.code == "asciicast.too_large"
    assert stream.tell() <= 1001


def test_iter_events_fails_at_the_first_bad_line_after_yielding_the_good_ones() -> None:
    events = iter_events(V3_HEADER + b'[0.1, "o", "a"]\n[oops]\n[0.1, "o", "b"]\n')
    assert next(events).data == "a"
    with pytest.raises(AsciicastInvalid) as excinfo:
        next(events)
    assert excinfo.value.details == [excinfo.value.details[0]]
    assert excinfo.value.details[0]["line"] == 3


# --- round trips ------------------------------------------------------------

codes = st.sampled_from(["o", "o", "o", "i", "m", "r", "x"])
texts = st.text(st.characters(exclude_categories=["Cs"]), max_size=40)


@st.composite
def events(draw: st.DrawFn) -> list[tuple[int, str, str]]:
    """(interval in microseconds, code, data) triples with data valid for the code."""
    out = []
    for code in draw(st.lists(codes, max_size=60)):
        micros = draw(st.integers(min_value=0, max_value=5_000_000))
        if code == "r":
            data = f"{draw(st.integers(1, 500))}x{draw(st.integers(1, 300))}"
        elif code == "x":
            data = str(draw(st.integers(0, 255)))
        else:
            data = draw(texts)
        out.append((micros, code, data))
    return out


def seconds(micros: int) -> str:
    return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"


@settings(max_examples=150, deadline=None)
@given(evs=events(), cols=st.integers(1, 1000), rows=st.integers(1, 1000))
def test_v3_round_trip(evs: list[tuple[int, str, str]], cols: int, rows: int) -> None:
    lines = [format_header_line({"version": 3, "term": {"cols": cols, "rows": rows}})]
    lines += [format_event_line(seconds(us), code, data) for us, code, data in evs]
    data = ("\n".join(lines) + "\n").encode()
    cast = parse_asciicast(data, max_bytes=len(data))
    assert (cast.cols, cast.rows, cast.event_count) == (cols, rows, len(evs))
    assert cast.duration == pytest.approx(sum(us for us, _, _ in evs) / 1e6, abs=1e-6)
    assert [(e.code, e.data) for e in iter_events(data)] == [(c, d) for _, c, d in evs]


@settings(max_examples=150, deadline=None)
@given(evs=events())
def test_v2_round_trip(evs: list[tuple[int, str, str]]) -> None:
    clock = 0
    lines = [format_header_line({"version": 2, "width": 80, "height": 24})]
    for us, code, data in evs:
        clock += us
        lines.append(format_event_line(seconds(clock), code, data))
    raw = ("\n".join(lines) + "\n").encode()
    cast = parse_asciicast(raw, max_bytes=len(raw))
    assert cast.event_count == len(evs)
    assert cast.duration == pytest.approx(clock / 1e6, abs=1e-9)
    times = [e.time for e in iter_events(raw)]
    assert times == sorted(times)


@settings(max_examples=100, deadline=None)
@given(frames=st.lists(st.tuples(st.integers(0, 5_000_000), texts), max_size=40))
def test_v1_round_trip(frames: list[tuple[int, str]]) -> None:
    doc = {"version": 1, "width": 80, "height": 24, "stdout": [[us / 1e6, t] for us, t in frames]}
    data = json.dumps(doc, indent=2).encode()
    cast = parse_asciicast(data, max_bytes=len(data))
    assert cast.event_count == len(frames)
    assert cast.duration == pytest.approx(sum(us for us, _ in frames) / 1e6, abs=1e-6)
    assert [e.data for e in iter_events(data)] == [t for _, t in frames]


@given(time=st.floats(0, 1e6), code=codes, data=texts)
def test_format_event_line_is_parsed_back_for_any_text(time: float, code: str, data: str) -> None:
    if code in "rx":
        data = "80x24" if code == "r" else "1"
    parsed = parse_event_line(format_event_line(time, code, data), version=3)
    assert parsed == (pytest.approx(time, abs=1e-6), code, data)


def test_an_absurd_terminal_size_is_invalid_not_a_crash() -> None:
    header = b'{"version": 2, "width": 99999999999999999999999, "height": 24}\n[0.1, "o", "hi"]\n'
    with pytest.raises(AsciicastInvalid) as caught:
        parse_asciicast(header, max_bytes=10_000)
    assert caught.value.code == "asciicast.bad_header"
