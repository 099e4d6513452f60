"""manage.py scan_media <source id or name> [--full]: the scan service, in this process."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError, CommandParser

from apps.accounts.commands import AuditedCommand
from apps.media.models import MediaScan, ScanState, StorageSource
from apps.media.services import media_scan_run, media_scan_start
from castcore.api.errors import ApiError
from castcore.api.filters import parse_id

BAR_WIDTH = 30


def _bar(scan: MediaScan) -> str:
    filled = BAR_WIDTH * scan.progress // 100
    return (
        f"[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {scan.progress:3d}% "
        f"probed {scan.probed}/{scan.to_probe}, failed {scan.failed}"
    )


class Command(AuditedCommand):
    help = "Scan a storage source now (same service as POST /storage-sources/{id}/scan)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("source", help="storage source id or name")
        parser.add_argument("--full", action="store_true", help="re-probe every file")

    def _source(self, ref: str) -> StorageSource:
        source = StorageSource.objects.filter(name=ref).first()
        if source is None and (pk := parse_id(ref)) is not None:
            source = StorageSource.objects.filter(pk=pk).first()
        if source is None:
            raise CommandError(f"no storage source with id or name {ref!r}")
        return source

    def handle(self, *args: Any, **options: Any) -> None:
        source = self._source(options["source"])
        try:
            scan = media_scan_start(source=source, full=options["full"], dispatch=False)
        except ApiError as exc:
            raise CommandError(f"{exc.code} {exc.params}") from None
        interactive = self.stdout.isatty()
        last_line = ""

        def show(current: MediaScan) -> None:
            nonlocal last_line
            line = _bar(current)
            if line == last_line:
                return
            last_line = line
            # A terminal gets one redrawn line; a log file gets plain lines.
            if interactive:
                self.stdout.write("\r" + line, ending="")
                self.stdout.flush()
            else:
                self.stdout.write(line)

        self.stdout.write(f"Scanning {source.name} (scan #{scan.pk})")
        result = media_scan_run(scan_id=scan.pk, on_progress=show)
        if interactive:
            self.stdout.write("")
        if result is None or result.state != ScanState.DONE:
            code = result.error_code if result else "scan.gone"
            detail = result.error_detail if result else ""
            raise CommandError(f"scan failed: {code} {detail}".strip())
        self.stdout.write(
            self.style.SUCCESS(
                f"done: {result.total} files, {result.new} new, {result.changed} changed, "
                f"{result.unchanged} unchanged; {result.probed} probed, "
                f"{result.failed} failed to probe; {result.missing} missing"
            )
        )
