"""Live watch pages in headless Chromium: the home page lists a live stream, a private one
is a 404. The page playing a real publish through CastCore's ingest, offline after the
grace and back: apps/streams/live/tests/test_live_in_browser_e2e.py."""

from __future__ import annotations

from typing import Any

import pytest

from apps.recordings.tests.browser import chromium_page, needs_chromium
from apps.streams.tests.live_helpers import (  # noqa: F401
    _live_folders,
    a_live_stream,
    write_static_hls,
)

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True), needs_chromium]


def test_the_home_page_lists_the_live_stream_and_a_private_one_is_404(live_server: Any) -> None:
    public = a_live_stream(visibility="public", title="On air now")
    private = a_live_stream(visibility="private", title="Staff only")
    for stream in (public, private):  # "live" on the home page means playable
        write_static_hls(stream)
    with chromium_page() as page:
        page.goto(live_server.url + "/")
        link = page.get_by_role("link", name="On air now")
        assert link.is_visible()
        assert page.get_by_role("link", name="Staff only").count() == 0

        link.focus()
        page.keyboard.press("Enter")
        page.wait_for_url(f"{live_server.url}/live/{public.slug}")
        assert page.get_by_role("heading", name="On air now").is_visible()

        response = page.goto(f"{live_server.url}/live/{private.slug}")
        assert response is not None and response.status == 404
