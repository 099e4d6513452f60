"""Markdown rendered to HTML that is safe to put in a page.

Recordings' descriptions, and the Owncast API's summary (as Owncast renders it).
"""

from __future__ import annotations

import markdown
import nh3

_EXTENSIONS = ["fenced_code", "sane_lists"]


def render_markdown(text: str | None) -> str:
    """Markdown → HTML → nh3 (allow-listed tags and attributes, safe URL schemes only)."""
    if not text:
        return ""
    html = markdown.markdown(text, extensions=_EXTENSIONS, output_format="html")
    return nh3.clean(html, link_rel="noopener noreferrer nofollow")
