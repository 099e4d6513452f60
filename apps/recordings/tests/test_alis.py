"""ALiS v1 wire format, decoder state machine and asciicast translation."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from apps.recordings.alis import (
    MAGIC,
    PROTOCOLS,
    AlisDecoder,
    AlisError,
    AlisEvent,
    Eot,
    Exit,
    Init,
    Input,
    Marker,
    Output,
    Resize,
    Theme,
    decode_event,
    decode_uleb128,
    detect_protocol,
    encode_event,
    encode_uleb128,
    negotiate_subprotocol,
)
from apps.recordings.alis_convert import AlisToAsciicast, AsciicastToAlis
from apps.recordings.asciicast import iter_events, parse_asciicast

DATA = Path(__file__).parent / "data"
GREY, DARK = (0xD0, 0xD0, 0xD0), (0x1C, 0x1C, 0x1C)
PALETTE8 = ((0, 0, 0), (255, 0, 0), (0, 255, 0), (255, 255, 0)) * 2


def error_code(fn: Callable[..., object], *args: object) -> str:
    with pytest.raises(AlisError) as excinfo:
        fn(*args)
    return excinfo.value.code


# --- byte vectors built by hand from the spec ---------------------------------

VECTORS: list[tuple[bytes, AlisEvent]] = [
    (b"\x01\x00\x00\x50\x18\x00\x06Hello!", Init(0, 0, 80, 24, None, "Hello!")),
    (b"\x6f\x01\xc8\xd0\x07\x07ls -la\n", Output(1, 125_000, "ls -la\n")),
    (b"\x69\x02\xd0\x86\x03\x07cd /tmp", Input(2, 50_000, "cd /tmp")),
    (b"\x72\x03\x90\x4e\x64\x1e", Resize(3, 10_000, 100, 30)),
    (b"\x6d\x04\xc0\x84\x3d\x00", Marker(4, 1_000_000, "")),
    (b"\x78\x05\xa0\xc2\x1e\x00", Exit(5, 500_000, 0)),
    (b"\x04\xc0\x84\x3d", Eot(1_000_000)),
    (
        b"\x01\x07\x00\x50\x18\x08\xd0\xd0\xd0\x1c\x1c\x1c"
        + b"\x00\x00\x00\xff\x00\x00\x00\xff\x00\xff\xff\x00" * 2
        + b"\x00",
        Init(7, 0, 80, 24, Theme(GREY, DARK, PALETTE8), ""),
    ),
    (b"\x6f\x09\x00\x03\xc3\xa9!", Output(9, 0, "é!")),  # length counts bytes, not chars
]


def test_the_magic_string_is_alis_and_version_one() -> None:
    assert bytes([0x41, 0x4C, 0x69, 0x53, 0x01]) == MAGIC


@pytest.mark.parametrize(("wire", "event"), VECTORS)
def test_known_vectors_encode(wire: bytes, event: AlisEvent) -> None:
    assert encode_event(event) == wire


@pytest.mark.parametrize(("wire", "event"), VECTORS)
def test_known_vectors_decode(wire: bytes, event: AlisEvent) -> None:
    assert decode_event(wire) == event


@pytest.mark.parametrize(
    ("value", "wire"),
    [
        (0, b"\x00"),
        (127, b"\x7f"),
        (128, b"\x80\x01"),
        (300, b"\xac\x02"),
        (624_485, b"\xe5\x8e\x26"),
        (2**64 - 1, b"\xff" * 9 + b"\x01"),
    ],
)
def test_uleb128_vectors(value: int, wire: bytes) -> None:
    assert encode_uleb128(value) == wire
    assert decode_uleb128(wire + b"tail", 0) == (value, len(wire))


@given(st.integers(0, 2**64 - 1))
def test_uleb128_round_trip(value: int) -> None:
    assert decode_uleb128(encode_uleb128(value), 0) == (value, len(encode_uleb128(value)))


# --- malformed input ------------------------------------------------------------


@pytest.mark.parametrize(
    ("wire", "code"),
    [
        (b"", "alis.empty_message"),
        (b"\x55\x00\x00", "alis.unknown_event"),
        (b"\x6f\x01\x80", "alis.truncated"),
        (b"\x6f\x01\x00\x05abc", "alis.truncated"),
        (b"\x72\x01\x00\x50", "alis.truncated"),
        (b"\x6f\x01\x00\x01a!", "alis.trailing_bytes"),
        (b"\x6f\x01\x00\x02\xc3\x28", "alis.not_utf8"),
        (b"\x01\x00\x00\x50\x18\x05\x00", "alis.bad_theme"),
        (b"\x01\x00\x00\x50\x18\x10" + b"\x00" * 10, "alis.truncated"),
        (b"\x04" + b"\xff" * 11, "alis.varint_overflow"),
        (b"\x04" + b"\xff" * 9 + b"\x02", "alis.varint_overflow"),
    ],
)
def test_malformed_messages_have_codes(wire: bytes, code: str) -> None:
    assert error_code(decode_event, wire) == code


def test_values_outside_u64_cannot_be_encoded() -> None:
    assert error_code(encode_uleb128, -1) == "alis.out_of_range"
    assert error_code(encode_event, Output(1, 2**64, "x")) == "alis.out_of_range"


# --- decoder state ------------------------------------------------------------


def test_the_decoder_needs_the_magic_first() -> None:
    assert error_code(AlisDecoder().feed, VECTORS[0][0]) == "alis.bad_magic"
    assert error_code(AlisDecoder().feed, b"ALiS\x02") == "alis.unsupported_version"
    assert error_code(AlisDecoder().feed, b"ALiS\x01extra") == "alis.bad_magic"


def test_events_before_init_are_rejected() -> None:
    decoder = AlisDecoder()
    assert decoder.feed(MAGIC) is None
    assert error_code(decoder.feed, encode_event(Output(1, 5, "x"))) == "alis.no_init"
    assert decoder.state == "init"


def test_the_decoder_tracks_stream_time_and_resets_on_eot() -> None:
    decoder = AlisDecoder()
    decoder.feed(MAGIC)
    decoder.feed(encode_event(Init(10, 2_000_000, 80, 24)))
    assert (decoder.time, decoder.last_id) == (2_000_000, 10)
    decoder.feed(encode_event(Output(11, 250_000, "a")))
    decoder.feed(encode_event(Resize(12, 750_000, 90, 30)))
    assert (decoder.time, decoder.last_id) == (3_000_000, 12)
    assert decoder.feed(encode_event(Eot(5))) == Eot(5)
    assert error_code(decoder.feed, encode_event(Output(13, 1, "late"))) == "alis.no_init"
    decoder.feed(encode_event(Init(0, 0, 80, 24)))
    assert decoder.time == 0


def test_a_bad_message_leaves_the_decoder_usable() -> None:
    decoder = AlisDecoder()
    decoder.feed(MAGIC)
    decoder.feed(encode_event(Init(0, 0, 80, 24)))
    assert error_code(decoder.feed, b"\x99") == "alis.unknown_event"
    assert decoder.feed(encode_event(Output(1, 7, "ok"))) == Output(1, 7, "ok")
    assert decoder.time == 7


# --- hypothesis round trips ---------------------------------------------------

u64 = st.integers(0, 2**64 - 1)
small = st.integers(0, 100_000_000)
text = st.text(st.characters(exclude_categories=["Cs"]), max_size=30)
rgb = st.tuples(st.integers(0, 255), st.integers(0, 255), st.integers(0, 255))
themes = st.none() | st.builds(
    Theme, rgb, rgb, st.sampled_from([8, 16]).flatmap(lambda n: st.tuples(*[rgb] * n))
)
any_event = st.one_of(
    st.builds(Init, u64, u64, u64, u64, themes, text),
    st.builds(Output, u64, u64, text),
    st.builds(Input, u64, u64, text),
    st.builds(Resize, u64, u64, u64, u64),
    st.builds(Marker, u64, u64, text),
    st.builds(Exit, u64, u64, u64),
    st.builds(Eot, u64),
)


@given(any_event)
def test_encode_decode_round_trip(event: AlisEvent) -> None:
    assert decode_event(encode_event(event)) == event


@st.composite
def session(draw: st.DrawFn) -> list[AlisEvent]:
    """Init, then events with ids 1.. as a converter would number them."""
    dims = st.integers(1, 500)
    events: list[AlisEvent] = [Init(0, 0, draw(dims), draw(dims), draw(themes), "")]
    for n, kind in enumerate(draw(st.lists(st.sampled_from("oimrx"), max_size=40)), start=1):
        rel = draw(small)
        if kind == "r":
            events.append(Resize(n, rel, draw(dims), draw(dims)))
        elif kind == "x":
            events.append(Exit(n, rel, draw(st.integers(0, 255))))
        elif kind == "m":
            events.append(Marker(n, rel, draw(text)))
        else:
            events.append((Output if kind == "o" else Input)(n, rel, draw(text)))
    return events


@settings(max_examples=150, deadline=None)
@given(session())
def test_a_session_survives_alis_to_v3_and_back(events: list[AlisEvent]) -> None:
    to_cast = AlisToAsciicast(3)
    lines = [line for e in events for line in to_cast.feed(e)]
    back = AsciicastToAlis()
    assert [e for line in lines for e in back.feed(line)] == events
    data = ("\n".join(lines) + "\n").encode()
    cast = parse_asciicast(data, max_bytes=len(data))
    assert cast.event_count == len(events) - 1
    intervals = [e.rel_time for e in events if not isinstance(e, Init)]
    assert cast.duration == pytest.approx(sum(intervals) / 1e6)


@settings(max_examples=150, deadline=None)
@given(session())
def test_a_session_survives_alis_to_v2_and_back_except_exit(events: list[AlisEvent]) -> None:
    to_cast = AlisToAsciicast(2)
    lines = [line for e in events for line in to_cast.feed(e)]
    back = AsciicastToAlis()
    got = [e for line in lines for e in back.feed(line)]
    # v2 has no exit code: Exit is dropped and its time folds into the next event.
    expected: list[AlisEvent] = [events[0]]
    carry = 0
    for e in events[1:]:
        assert not isinstance(e, Init | Eot)
        if isinstance(e, Exit):
            carry += e.rel_time
            continue
        expected.append(replace(e, id=len(expected), rel_time=e.rel_time + carry))
        carry = 0
    assert got == expected


# --- asciicast producers --------------------------------------------------------


def test_a_v3_file_becomes_alis_events() -> None:
    conv = AsciicastToAlis()
    lines = (DATA / "hand-v3.cast").read_text().splitlines()
    events = [e for line in lines for e in conv.feed(line)]
    init = events[0]
    assert isinstance(init, Init)
    assert (init.cols, init.rows) == (100, 30)
    assert init.theme is not None
    assert init.theme.bg == (0x21, 0x21, 0x21)
    assert len(init.theme.palette) == 16
    assert events[1] == Output(1, 125_000, "$ ")
    assert events[2] == Input(2, 800_000, "l")
    assert Marker(6, 1_500_000, "listing done") in events
    assert Resize(7, 2_050_000, 120, 40) in events
    assert events[-1] == Exit(9, 10_000, 0)


def test_the_real_v2_recording_becomes_alis_events_in_one_message() -> None:
    conv = AsciicastToAlis()
    events = conv.feed((DATA / "real-v2.cast").read_text())
    assert [type(e) for e in events] == [Init, Output, Output]
    assert [e.rel_time for e in events[1:]] == [1508, 301_003]  # type: ignore[union-attr]


def test_only_newline_splits_lines_in_a_message() -> None:
    conv = AsciicastToAlis()
    message = '{"version": 3, "term": {"cols": 8, "rows": 2}}\r\n[0.5, "o", "a\u2028b\x85c"]\n'
    assert conv.feed(message)[1] == Output(1, 500_000, "a\u2028b\x85c")


def test_v2_exit_events_are_kept_only_when_their_status_is_a_number() -> None:
    conv = AsciicastToAlis()
    conv.feed('{"version": 2, "width": 80, "height": 24}')
    assert conv.feed('[1.0, "x", "²"]') == []
    assert conv.feed('[1.5, "x", "3"]') == [Exit(1, 1_500_000, 3)]


def test_unknown_codes_are_dropped_but_their_time_is_kept() -> None:
    conv = AsciicastToAlis()
    conv.feed('{"version": 3, "term": {"cols": 80, "rows": 24}}')
    assert conv.feed('[0.5, "z", "subtitle"]') == []
    assert conv.feed('[0.25, "o", "a"]') == [Output(1, 750_000, "a")]


@pytest.mark.parametrize(
    ("lines", "code"),
    [
        (["not json"], "alis.bad_header"),
        (['{"version": 2}'], "alis.bad_header"),
        (['{"version": 1, "width": 80, "height": 24, "stdout": []}'], "alis.bad_header"),
        (['{"version": 2, "width": 80, "height": 24}', '[1, "o"]'], "alis.bad_event"),
        (['{"version": 3, "term": {"cols": 8, "rows": 2}}', '[-1, "o", "x"]'], "alis.bad_event"),
    ],
)
def test_bad_asciicast_producers_get_codes(lines: list[str], code: str) -> None:
    conv = AsciicastToAlis()
    for line in lines[:-1]:
        conv.feed(line)
    assert error_code(conv.feed, lines[-1]) == code


def test_init_data_and_theme_reach_the_asciicast_header() -> None:
    theme = Theme(GREY, DARK, PALETTE8)
    lines = AlisToAsciicast(2).feed(Init(3, 9_000_000, 120, 40, theme, "\x1b[2Jprompt$ "))
    cast = parse_asciicast(("\n".join(lines)).encode(), max_bytes=10_000)
    assert (cast.version, cast.cols, cast.rows) == (2, 120, 40)
    assert cast.theme == theme.to_asciicast()
    first = next(iter_events("\n".join(lines).encode()))
    assert (first.time, first.code, first.data) == (0.0, "o", "\x1b[2Jprompt$ ")


def test_theme_conversion_from_the_asciicast_spec_example() -> None:
    spec = {
        "fg": "#d0d0d0",
        "bg": "#212121",
        "palette": "#151515:#ac4142:#7e8e50:#e5b567:#6c99bb:#9f4e85:#7dd6cf:#d0d0d0",
    }
    theme = Theme.from_asciicast(spec)
    assert theme is not None
    assert theme.palette[1] == (0xAC, 0x41, 0x42)
    assert theme.to_asciicast() == spec
    assert Theme.from_asciicast({**spec, "palette": "#151515:#ac4142"}) is None
    assert Theme.from_asciicast({**spec, "fg": "red"}) is None


# --- protocol choice ------------------------------------------------------------


def test_protocols_are_offered_in_the_players_order() -> None:
    assert PROTOCOLS == ("v1.alis", "v2.asciicast", "v3.asciicast", "raw")
    assert negotiate_subprotocol(["chat", "v3.asciicast", "v1.alis"]) == "v3.asciicast"
    assert negotiate_subprotocol(["chat"]) is None


@pytest.mark.parametrize(
    ("subprotocol", "first", "expected"),
    [
        ("v2.asciicast", MAGIC, "v2.asciicast"),
        (None, MAGIC, "v1.alis"),
        (None, b"ALiS\x02", "v1.alis"),
        (None, '{"version": 2, "width": 80, "height": 24}', "v2.asciicast"),
        (
            None,
            b'{"version": 3, "term": {"cols": 80, "rows": 24}}\n[0.1, "o", "x"]',
            "v3.asciicast",
        ),
        ("bogus", '{"version": 3, "term": {"cols": 80, "rows": 24}}', "v3.asciicast"),
        (None, "$ ls -la\r\n", "raw"),
        (None, b"\xff\xfe binary", "raw"),
        (None, '{"version": 1}', "raw"),
        (None, "{broken", "raw"),
        (None, None, "raw"),
    ],
)
def test_detect_protocol(subprotocol: str | None, first: bytes | str | None, expected: str) -> None:
    assert detect_protocol(subprotocol=subprotocol, first_message=first) == expected
