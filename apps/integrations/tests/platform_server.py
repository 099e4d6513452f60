"""A small stand-in for a platform (the real ones cannot be reached from here).

It speaks OAuth 2 authorization code with PKCE (S256 checked, codes single use, client
authenticated; a browser's GET /authorize consents at once and is sent back), refresh and
revocation, and the few YouTube Data API / Twitch Helix calls
CastCore makes. Access tokens expire for real (`token_seconds`); every request is recorded.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

CLIENT_ID = "castcore-test-client"
CLIENT_SECRET = "client-secret-0123456789"
STREAM_KEY = "live_stand-in-key-0123456789"
INGEST = "rtmp://127.0.0.1:1935/live2"


@dataclass
class Platform:
    token_seconds: float = 3600.0
    codes: dict[str, dict[str, str]] = field(default_factory=dict)
    access: dict[str, float] = field(default_factory=dict)  # token -> expires (monotonic)
    refresh: set[str] = field(default_factory=set)
    revoked: set[str] = field(default_factory=set)
    requests: list[tuple[str, str]] = field(default_factory=list)
    pushed: list[dict[str, Any]] = field(default_factory=list)
    fail_metadata: bool = False
    # The YouTube channel the consenting user holds (another one: a re-link to another channel).
    channel_id: str = "UC123"
    url: str = ""

    def issue(self) -> dict[str, Any]:
        access, refresh = "at-" + secrets.token_hex(16), "rt-" + secrets.token_hex(16)
        self.access[access] = time.monotonic() + self.token_seconds
        self.refresh.add(refresh)
        return {
            "access_token": access,
            "refresh_token": refresh,
            "token_type": "Bearer",
            "expires_in": self.token_seconds,
            "scope": "stand-in",
        }

    def authorize(self, authorize_url: str) -> str:
        """What a consenting user's browser does: returns the callback URL it is sent to."""
        query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(authorize_url).query))
        assert query["response_type"] == "code" and query["client_id"] == CLIENT_ID
        assert query["code_challenge_method"] == "S256"
        code = "code-" + secrets.token_hex(8)
        self.codes[code] = query
        params = urllib.parse.urlencode({"code": code, "state": query["state"]})
        return f"{query['redirect_uri']}?{params}"


def _handler(platform: Platform) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _send(self, status: int, body: Any) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _form(self) -> dict[str, str]:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length).decode()
            if self.headers.get("Content-Type", "").startswith("application/json"):
                return dict(json.loads(raw or "{}"))
            return dict(urllib.parse.parse_qsl(raw))

        def _client_ok(self, form: dict[str, str]) -> bool:
            auth = self.headers.get("Authorization", "")
            if auth.startswith("Basic "):
                user, _, password = base64.b64decode(auth[6:]).decode().partition(":")
                return user == CLIENT_ID and password == CLIENT_SECRET
            return form.get("client_id") == CLIENT_ID and form.get("client_secret") == CLIENT_SECRET

        def _bearer_ok(self) -> bool:
            token = self.headers.get("Authorization", "").removeprefix("Bearer ")
            expires = platform.access.get(token)
            return (
                expires is not None and expires > time.monotonic() and token not in platform.revoked
            )

        def do_POST(self) -> None:
            path = urllib.parse.urlsplit(self.path).path
            platform.requests.append(("POST", path))
            form = self._form()
            if path == "/token":
                if not self._client_ok(form):
                    return self._send(401, {"error": "invalid_client"})
                if form.get("grant_type") == "authorization_code":
                    query = platform.codes.pop(form.get("code", ""), None)  # single use
                    if query is None or query["redirect_uri"] != form.get("redirect_uri"):
                        return self._send(400, {"error": "invalid_grant"})
                    digest = hashlib.sha256(form.get("code_verifier", "").encode()).digest()
                    challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
                    if challenge != query["code_challenge"]:
                        return self._send(400, {"error": "invalid_grant"})
                    return self._send(200, platform.issue())
                if form.get("grant_type") == "refresh_token":
                    token = form.get("refresh_token", "")
                    if token not in platform.refresh or token in platform.revoked:
                        return self._send(400, {"error": "invalid_grant"})
                    platform.refresh.discard(token)  # rotated, as Google and Twitch may
                    return self._send(200, platform.issue())
                return self._send(400, {"error": "unsupported_grant_type"})
            if path == "/revoke":
                token = form.get("token", "")
                platform.revoked.add(token)
                if token in platform.refresh:  # revoking a grant ends its access tokens
                    platform.revoked.update(platform.access)
                return self._send(200, {})
            self._send(404, {})

        def do_GET(self) -> None:
            parts = urllib.parse.urlsplit(self.path)
            platform.requests.append(("GET", parts.path))
            if parts.path == "/authorize":  # a browser: the user consents at once
                self.send_response(302)
                self.send_header("Location", platform.authorize(platform.url + self.path))
                self.send_header("Content-Length", "0")
                self.end_headers()
                return None
            if not self._bearer_ok():
                return self._send(401, {"error": "unauthorized"})
            if parts.path == "/youtube/v3/channels":
                channel = {"id": platform.channel_id, "snippet": {"title": "Studio"}}
                return self._send(200, {"items": [channel]})
            if parts.path == "/youtube/v3/liveStreams":
                info = {"ingestionAddress": INGEST, "streamName": STREAM_KEY}
                return self._send(200, {"items": [{"cdn": {"ingestionInfo": info}}]})
            if parts.path == "/youtube/v3/liveBroadcasts":
                return self._send(200, {"items": [{"id": "bc-1"}]})
            if parts.path == "/helix/users":
                return self._send(
                    200, {"data": [{"id": "4711", "login": "studio", "display_name": "Studio"}]}
                )
            if parts.path == "/helix/streams/key":
                return self._send(200, {"data": [{"stream_key": STREAM_KEY}]})
            self._send(404, {})

        def _metadata(self) -> None:
            parts = urllib.parse.urlsplit(self.path)
            platform.requests.append((self.command, parts.path))
            if not self._bearer_ok():
                return self._send(401, {"error": "unauthorized"})
            if platform.fail_metadata:
                return self._send(500, {"error": "backend"})
            platform.pushed.append({"path": parts.path, "body": self._form()})
            self._send(200, {})

        do_PUT = _metadata
        do_PATCH = _metadata

    return Handler


@contextmanager
def running_platform() -> Iterator[Platform]:
    platform = Platform()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(platform))
    platform.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield platform
    finally:
        server.shutdown()
        server.server_close()


def provider_settings(url: str) -> dict[str, str]:
    return {
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "authorize_url": f"{url}/authorize",
        "token_url": f"{url}/token",
        "revoke_url": f"{url}/revoke",
        "api_url": url,
    }
