"""Chat text: invisible characters out, a small markup in, HTML that is safe in any page.

A body is plain text. What it may ask for: links (bare http/https URLs),
emphasis (`*em*`, `_em_`, `**strong**`, `~~struck~~`) and emoji shortcodes
(`:smile:`); everything else is shown as typed. The text is escaped first and
the markup built on the escaped text, then nh3 cleans the result against an
allow-list anyway: a mistake in the markup rules cannot turn into a tag.
"""

from __future__ import annotations

import html
import re
import unicodedata

import nh3

# Characters that render as nothing or reorder what follows (zero-width spaces and
# joiners, bidi embeddings and overrides, isolates, BOM), and controls: a name or
# body made of them looks empty, or shows text other than what was written.
# U+200D (zero-width joiner) stays only between two symbols, where it builds one
# emoji out of several (family, flags of professions).
_ZWJ = "\u200d"


def strip_invisible(text: str) -> str:
    """`text` without control and format characters (tabs and newlines become spaces)."""
    out: list[str] = []
    for index, char in enumerate(text):
        category = unicodedata.category(char)
        if char in "\t\n\r":
            out.append(" ")
        elif char == _ZWJ:
            before = text[index - 1] if index else ""
            after = text[index + 1] if index + 1 < len(text) else ""
            if before and after and _is_symbol(before) and _is_symbol(after):
                out.append(char)
        elif category in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"):
            continue
        else:
            out.append(char)
    return "".join(out)


def _is_symbol(char: str) -> bool:
    return unicodedata.category(char) == "So" or char == "\ufe0f"


def clean_name(name: str) -> str:
    """A display name as stored: invisible characters out, whitespace collapsed."""
    return " ".join(strip_invisible(unicodedata.normalize("NFC", name)).split())


def name_key(name: str) -> str:
    """What two names are compared by: case and spaces do not make a different name."""
    return clean_name(name).casefold().replace(" ", "")


def clean_body(body: str) -> str:
    """A body as stored: NFC, invisible characters out, surrounding whitespace trimmed."""
    return strip_invisible(unicodedata.normalize("NFC", body)).strip()


EMOJI = {
    "smile": "😄",
    "grin": "😁",
    "joy": "😂",
    "wink": "😉",
    "heart": "❤️",
    "thumbsup": "👍",
    "+1": "👍",
    "thumbsdown": "👎",
    "clap": "👏",
    "fire": "🔥",
    "tada": "🎉",
    "eyes": "👀",
    "wave": "👋",
    "thinking": "🤔",
    "cry": "😢",
    "rofl": "🤣",
    "100": "💯",
    "rocket": "🚀",
    "star": "⭐",
    "ok_hand": "👌",
}

# After escaping, a URL cannot hold < > " (they are entities now); it ends at
# whitespace or at an entity's start, and trailing sentence punctuation is not its own.
_URL = re.compile(r"\bhttps?://[^\s&<>\"']+(?:&amp;[^\s&<>\"']+)*", re.IGNORECASE)
_TRAILING = ".,:;!?)]}'"
_EMPHASIS = [
    (re.compile(r"\*\*(?=\S)(.+?)(?<=\S)\*\*"), "strong"),
    (re.compile(r"~~(?=\S)(.+?)(?<=\S)~~"), "del"),
    (re.compile(r"(?<![\w*])\*(?=\S)(.+?)(?<=\S)\*(?![\w*])"), "em"),
    (re.compile(r"(?<![\w_])_(?=\S)(.+?)(?<=\S)_(?![\w_])"), "em"),
]
_SHORTCODE = re.compile(r":([a-z0-9_+]{1,20}):")

ALLOWED_TAGS = {"a", "em", "strong", "del"}
ALLOWED_ATTRIBUTES = {"a": {"href"}}
ALLOWED_SCHEMES = {"http", "https"}


def _inline(escaped: str) -> str:
    """Emphasis and emoji in a stretch of escaped text with no link in it."""
    for pattern, tag in _EMPHASIS:
        escaped = pattern.sub(rf"<{tag}>\1</{tag}>", escaped)
    return _SHORTCODE.sub(lambda match: EMOJI.get(match.group(1), match.group(0)), escaped)


def render(body: str) -> str:
    """The HTML of a (cleaned) body: escaped text, the small markup, through nh3."""
    escaped = html.escape(body, quote=True)
    parts: list[str] = []
    position = 0
    for match in _URL.finditer(escaped):
        url = match.group(0)
        stripped = url.rstrip(_TRAILING)
        parts.append(_inline(escaped[position : match.start()]))
        parts.append(f'<a href="{stripped}">{stripped}</a>')
        position = match.start() + len(stripped)
    parts.append(_inline(escaped[position:]))
    return nh3.clean(
        "".join(parts),
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=ALLOWED_SCHEMES,
        link_rel="noopener noreferrer nofollow ugc",
    )
