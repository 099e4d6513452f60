"""WebSocket refusals through a real server (daphne via castcore.serve), as a client
that is not a browser sees them: the handshake succeeds, then the close frame carries
the code, not an HTTP 403 before it."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest
import websockets

from castcore.tests.test_run_modes import ROOT, embedded_env, free_port, stop, wait_for_answer


@pytest.mark.slow
def test_a_client_of_a_real_server_reads_the_close_code(tmp_path: Path) -> None:
    port = free_port()
    env = {**embedded_env(tmp_path / "var"), "CASTCORE_EMBEDDED_WORKER": "false"}
    server = subprocess.Popen(
        [sys.executable, "-m", "castcore.serve", "-b", "127.0.0.1", "-p", str(port),
         "castcore.asgi:application"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip

    async def close_code(path: str, origin: str | None) -> int:
        url = f"ws://127.0.0.1:{port}{path}"
        shown = websockets.Origin(origin) if origin else None
        async with websockets.connect(url, origin=shown, open_timeout=10) as ws:
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await asyncio.wait_for(ws.recv(), 10)
        assert closed.value.rcvd is not None
        return closed.value.rcvd.code

    try:
        wait_for_answer(f"http://127.0.0.1:{port}/api/v1/system/health", 60)
        own = f"http://127.0.0.1:{port}"
        assert asyncio.run(close_code("/api/v1/ws/status", own)) == 4401
        assert asyncio.run(close_code("/api/v1/ws/status", "https://evil.example")) == 4403
        assert asyncio.run(close_code("/api/v1/ws/status", None)) == 4403
        assert asyncio.run(close_code("/api/v1/ws/nothing", own)) == 4404
    finally:
        stop(server)
