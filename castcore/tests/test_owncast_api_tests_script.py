"""scripts/owncast_api_tests.py changes only what Owncast's tests may have changed, and
reports what jest's own summary hides."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

from castcore.tests.test_run_modes import ROOT


def script() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "owncast_api_tests", ROOT / "scripts" / "owncast_api_tests.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


OWNCAST_LIB = """request = request('http://127.0.0.1:8080');
const ws = new WebSocket(`ws://localhost:8080/ws?accessToken=${accessToken}`, {
  origin: 'http://localhost:8080',
});
request.get('/api/admin/status').auth('admin', 'abc123');
expect(res.body.streamKey).toBe('abc123');
const notTheKey = 'abc1234';
"""


def test_the_copy_changes_only_the_base_url_the_password_and_the_key(tmp_path: Path) -> None:
    source = tmp_path / "api"
    (source / "lib").mkdir(parents=True)
    (source / "node_modules").mkdir()
    (source / "lib" / "chat.js").write_text(OWNCAST_LIB)
    (source / "package.json").write_text('{"scripts": {"test": "jest"}, "x": "abc123"}')

    script().copy_tests(source, tmp_path / "copy", "http://127.0.0.1:4000/owncast/s", "K" * 20)

    copied = (tmp_path / "copy" / "lib" / "chat.js").read_text()
    assert copied == (
        OWNCAST_LIB.replace("http://127.0.0.1:8080", "http://127.0.0.1:4000/owncast/s")
        .replace("ws://localhost:8080", "ws://127.0.0.1:4000/owncast/s")
        .replace("http://localhost:8080", "http://127.0.0.1:4000/owncast/s")
        .replace("'abc123'", "'" + "K" * 20 + "'")
    )
    assert "abc1234" in copied  # a word that only starts with the key is not the key
    # Only the tests' JavaScript: the package files are Owncast's as they are.
    assert "abc123" in (tmp_path / "copy" / "package.json").read_text()
    assert (tmp_path / "copy" / "node_modules").resolve() == source / "node_modules"


def jest_results(root: Path) -> dict[str, object]:
    failed = {
        "title": "can disable a user",
        "status": "failed",
        "failureMessages": ['Error: expected 200 "OK", got 404 "Not Found"\n    at Test._assert'],
    }
    passed = {"title": "verify user list is populated", "status": "passed"}
    return {
        "testResults": [
            {"name": str(root / "chatusers.test.js"), "assertionResults": [failed, passed]},
        ]
    }


def test_a_stray_failure_is_counted_apart_unless_a_failed_test_said_it(tmp_path: Path) -> None:
    said_twice = 'Error: expected 200 "OK", got 404 "Not Found"'
    strays = {"chatusers.test.js": [said_twice, said_twice], "(after the last file)": ["late"]}

    lines = script().summarise(jest_results(tmp_path), tmp_path, strays)

    assert lines[1].split() == ["chatusers.test.js", "1", "1", "1"]
    assert lines[2].split() == ["total", "1", "1", "2"]
    report = "\n".join(lines)
    assert f"--- chatusers.test.js › can disable a user\n{said_twice}\n" in report
    assert "at Test._assert" not in report  # stacks left out
    assert report.count("(stray") == 2


def test_the_log_scan_finds_the_key_and_tokens_in_clear_but_not_masked_ones(
    tmp_path: Path,
) -> None:
    log = tmp_path / "server.log"
    key = "k3y-" + "x" * 20
    log.write_text(
        '"GET /api/chat?accessToken=%E2%80%A2%E2%80%A2%E2%80%A2%E2%80%A2ab12" 200\n'
        '"GET /ws?accessToken=undefined" -\n'
    )
    assert script().secrets_in_log(log, key) == []

    log.write_text(f'"GET /api/chat?accessToken=Zm9vYmFy" 200\nkey={key}\n')
    assert script().secrets_in_log(log, key) == [
        "the ingest key (1 times)",
        "1 access tokens in URLs",
    ]
