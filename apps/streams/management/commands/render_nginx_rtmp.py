"""`manage.py render_nginx_rtmp`: write nginx-rtmp's configuration for the ingest service.

For the distributed mode (docker-compose's nginx-rtmp service): nginx runs in the
foreground with its master process, and calls this CastCore back at
CASTCORE_RTMP_CALLBACK_URL with the shared secret. The file holds that secret:
it is written readable by its owner only.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from apps.streams.live.nginx import config_from_settings
from apps.streams.live.nginx_config import ConfigError, render


class Command(BaseCommand):
    help = "Write the nginx-rtmp configuration of CastCore's RTMP ingest."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--output", "-o", default="-", help="File to write; - for stdout.")
        parser.add_argument(
            "--prefix", default="/var/lib/nginx-rtmp", help="nginx's folder for pid, logs, temp."
        )
        parser.add_argument(
            "--module",
            default=None,
            help="load_module path of the rtmp module; empty when nginx has it built in "
            "(default: CASTCORE_NGINX_RTMP_MODULE).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        config = config_from_settings(
            prefix=options["prefix"], embedded=False, module_path=options["module"]
        )
        try:
            text = render(config)
        except ConfigError as exc:
            self.stderr.write(f"render_nginx_rtmp: {exc}")
            raise SystemExit(2) from None
        if options["output"] == "-":
            self.stdout.write(text, ending="")
            return
        path = Path(options["output"])
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as file:
            file.write(text)
        self.stdout.write(f"wrote {path}")
