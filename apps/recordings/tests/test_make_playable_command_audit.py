"""manage.py make_recordings_playable audits the rows it changed in one entry, and only those.

Real ffmpeg and ffprobe on a recording the engine writes, and on a file they cannot read.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command

from apps.accounts.commands import unix_user_name
from apps.accounts.models import AuditEntry
from apps.recordings.tests.test_video_playback import saved_video
from workers.ffmpeg.tests.test_playable import make_engine_recording

pytestmark = [pytest.mark.slow, pytest.mark.django_db]


def test_the_rows_it_changed_are_audited_in_one_cli_entry_with_their_ids(
    tmp_path: Path, admin_user: Any
) -> None:
    playable = saved_video(make_engine_recording(tmp_path / "run" / "recording-000.mkv"))
    broken_file = tmp_path / "broken.mkv"
    broken_file.write_bytes(b"\x00" * 512)
    broken = saved_video(broken_file)

    call_command("make_recordings_playable", "--as", "admin", stdout=io.StringIO())

    [entry] = AuditEntry.objects.filter(action="recording.make_playable")
    assert (entry.source, entry.actor_id, entry.actor_repr) == (
        AuditEntry.Source.CLI,
        admin_user.pk,
        "admin",
    )
    assert entry.target_type == "recordings.recording"
    assert entry.changes == {
        "ids": [None, [playable.pk, broken.pk]],
        "failed": [None, [broken.pk]],
    }


def test_a_run_that_changes_no_row_leaves_no_audit_entry(tmp_path: Path) -> None:
    call_command("make_recordings_playable", stdout=io.StringIO())  # nothing to do
    assert not AuditEntry.objects.filter(action="recording.make_playable").exists()

    broken_file = tmp_path / "broken.mkv"
    broken_file.write_bytes(b"\x00" * 512)
    broken = saved_video(broken_file)
    call_command("make_recordings_playable", stdout=io.StringIO())
    # Its failure waits for --retry-failed: the second run finds nothing and stays quiet.
    call_command("make_recordings_playable", stdout=io.StringIO())
    [entry] = AuditEntry.objects.filter(action="recording.make_playable")
    assert (entry.source, entry.actor_repr) == (AuditEntry.Source.CLI, f"unix:{unix_user_name()}")
    assert entry.changes == {"ids": [None, [broken.pk]], "failed": [None, [broken.pk]]}
