import io
from datetime import datetime

from castcore.secrets import remember
from castcore.serve import RedactingAccessLog, redact_request_line


def test_credential_query_parameters_are_masked() -> None:
    line = redact_request_line("WSCONNECTING /api/v1/ws/logs/4?token=cc_abcdefghijkl1234&tail=50")
    assert line == "WSCONNECTING /api/v1/ws/logs/4?token=••••1234&tail=50"


def test_credential_path_segments_are_masked() -> None:
    assert (
        redact_request_line("WSCONNECTING /ws/S/LoA-EFLLgIOB0i8cPIeXvg")
        == "WSCONNECTING /ws/S/••••eXvg"
    )
    line = redact_request_line("GET /connect/e0ec039d-e1c9-4bdb-8996-eebf41a65c31?next=/")
    assert line == "GET /connect/••••5c31?next=/"


def test_the_access_log_never_prints_a_known_secret() -> None:
    remember("live_streamkey_987654")
    stream = io.StringIO()
    log = RedactingAccessLog(stream)
    log(
        "http",
        "complete",
        {
            "client": "127.0.0.1:1",
            "method": "GET",
            "path": "/hls/live_streamkey_987654/index.m3u8",
            "status": 200,
            "size": 10,
        },
    )
    log.write_entry("127.0.0.1:1", datetime.now(), "GET /x?access_token=eyJhbGciOi.payload.sig")
    log.write_entry("127.0.0.1:1", datetime.now(), "GET /ws?accessToken=owncastchattoken42")
    output = stream.getvalue()
    assert "live_streamkey_987654" not in output and "••••7654" in output
    assert "eyJhbGciOi" not in output
    assert "owncastchattoken42" not in output
