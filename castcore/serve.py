"""`python -m castcore.serve …`: daphne, with an access log that keeps credentials out.

Browsers cannot set headers on WebSocket and EventSource requests, so those
clients send `?token=…`; daphne's own access log would print it. This entry
point takes daphne's command-line arguments unchanged and swaps in an access
log that masks credential query parameters and every secret CastCore knows.
"""

from __future__ import annotations

import re
import sys
from datetime import datetime
from typing import Any

import daphne.cli
from daphne.access import AccessLogGenerator

from castcore.secrets import mask

# Query parameters, and path segments, that carry credentials in CastCore URLs:
# the asciinema producer socket (/ws/S/<token>) and the CLI link page
# (/connect/<install-id>) are authenticated by the URL itself.
_CREDENTIAL_PARAMS = re.compile(r"(?i)([?&](?:token|access_token|ticket|key|password)=)([^&\s\"]*)")
_CREDENTIAL_SEGMENTS = re.compile(r"(/(?:ws/S|connect)/)([^/?\s\"]+)")


def redact_request_line(line: str) -> str:
    line = _CREDENTIAL_PARAMS.sub(lambda m: m.group(1) + mask(m.group(2)), line)
    return _CREDENTIAL_SEGMENTS.sub(lambda m: m.group(1) + mask(m.group(2)), line)


class RedactingAccessLog(AccessLogGenerator):
    def write_entry(
        self,
        host: Any,
        date: datetime,
        request: str,
        status: Any = None,
        length: Any = None,
        ident: Any = None,
        user: Any = None,
    ) -> None:
        from castcore.secrets import redact

        super().write_entry(
            host, date, redact(redact_request_line(request)), status, length, ident, user
        )


def main(argv: list[str] | None = None) -> None:
    # daphne.cli builds its access log from this module-level name.
    daphne.cli.AccessLogGenerator = RedactingAccessLog
    daphne.cli.CommandLineInterface().run(sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    main()
