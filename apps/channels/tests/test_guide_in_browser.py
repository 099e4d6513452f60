"""The guide page in headless Chromium: one row per channel, programmes laid out, now marked."""

from __future__ import annotations

from typing import Any

import pytest

from apps.channels.tests.conftest import ClipLibrary
from apps.channels.tests.test_pages import make_channels
from apps.recordings.tests.browser import chromium_page, needs_chromium

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True), needs_chromium]


def test_the_guide_renders_a_grid_with_the_current_time_marked(
    live_server: Any, clip_library: ClipLibrary
) -> None:
    make_channels(clip_library)
    errors: list[str] = []
    with chromium_page() as page:
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.set_viewport_size({"width": 1280, "height": 800})
        page.goto(f"{live_server.url}/guide")
        page.wait_for_selector(".guide-programme", timeout=15_000)

        rows = page.locator(".guide-row[data-slug]")
        assert rows.count() == 1  # anonymous: the public channel only
        layout = page.evaluate(
            """() => {
              const box = e => e.getBoundingClientRect();
              const track = box(document.querySelector('.guide-row[data-slug] .guide-track'));
              const now = box(document.getElementById('guide-now'));
              const onNow = box(document.querySelector('.guide-programme.on-now'));
              const cells = [...document.querySelectorAll('.guide-row[data-slug] .guide-programme')]
                .map(e => box(e));
              return {track: [track.left, track.right], now: now.left,
                      onNow: [onNow.left, onNow.right],
                      widths: cells.map(c => c.width), titles: cells.length};
            }"""
        )
    assert not errors
    # The marker sits inside the track, over the programme marked as on now.
    assert layout["track"][0] <= layout["now"] <= layout["track"][1]
    assert layout["onNow"][0] - 1 <= layout["now"] <= layout["onNow"][1] + 1
    assert layout["titles"] >= 2 and all(width > 0 for width in layout["widths"])
