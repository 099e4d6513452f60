"""manage.py scan_media: the same scan service, in-process, with plain-text progress."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from apps.media.models import MediaItem, MediaScan
from apps.media.tests.factories import make_source
from workers.ffmpeg.testing import Library

pytestmark = pytest.mark.django_db


def _run(*args: str) -> str:
    out = io.StringIO()
    call_command("scan_media", *args, stdout=out)
    return out.getvalue()


def test_it_scans_by_name_with_a_progress_bar(library: Library) -> None:
    source = make_source(name="Studio NAS", path=str(library.root))
    output = _run("Studio NAS")
    assert "[" in output and "100%" in output and "#" * 30 in output
    total = len(library.media)
    assert f"done: {total} files, {total} new" in output
    assert MediaItem.objects.filter(source=source, probed_at__isnull=False).count() == total
    again = _run(str(source.pk))  # by id; nothing to probe the second time
    assert f"{total} unchanged" in again and "probed 0/0" in again
    full = _run(str(source.pk), "--full")
    assert f"probed {total}/{total}" in full
    # The summary's first three counts add up to the files seen, full scan or not.
    assert f"done: {total} files, 0 new, 0 changed, {total} unchanged; {total} probed" in full
    assert MediaScan.objects.filter(source=source, state="done").count() == 3


def test_unknown_sources_and_failures_are_errors(tmp_path: Any) -> None:
    with pytest.raises(CommandError, match="no storage source"):
        _run("nope")
    make_source(name="gone", path=str(tmp_path / "nothing"))
    with pytest.raises(CommandError, match=r"scan\.root_unavailable"):
        _run("gone")
