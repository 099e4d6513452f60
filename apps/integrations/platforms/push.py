"""On start, tell each linked platform a job sends to its resolved metadata.

Best effort by design: the stream is already running when this happens, and a platform
refusing a title is no reason to stop it. A failure becomes a hint: a warning line with
`hint_code` in the job's live log (the WS logs group) and the outcome on the metadata row
(`last_push_code`), which GET /stream-jobs/{id}/metadata/{platform} shows. The run's
stored log tail is the supervisor's own and is not written from here.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.utils import timezone

from apps.integrations.platforms import oauth, providers
from apps.integrations.platforms.metadata import metadata_resolve, templates_of
from apps.integrations.platforms.models import AccountKind, PlatformAccount, PlatformMetadata
from castcore.api.errors import ApiError

logger = logging.getLogger("castcore.integrations")
PUSH_FAILED = "platform.metadata_push_failed"


@dataclass(frozen=True)
class PushResult:
    account_id: int
    platform: str
    code: str  # "platform.ok" or what went wrong

    @property
    def ok(self) -> bool:
        return self.code == "platform.ok"


def _accounts_of(job_id: int) -> list[PlatformAccount]:
    return list(
        PlatformAccount.objects.filter(
            stream_outputs__job_id=job_id,
            stream_outputs__enabled=True,
            kind=AccountKind.OAUTH,
        ).distinct()
    )


def platform_metadata_push(*, job_id: int) -> list[PushResult]:
    """Send job `job_id`'s resolved metadata to every linked account its outputs name."""
    from apps.streams.models import StreamJob

    job = StreamJob.objects.filter(pk=job_id).first()
    if job is None:
        return []
    results: list[PushResult] = []
    for account in _accounts_of(job_id):
        row = PlatformMetadata.objects.filter(job=job, platform=account.platform).first()
        if row is None:
            continue  # nothing written for this platform: leave what it has
        try:
            resolved = metadata_resolve(job=job, templates=templates_of(row))
            token = oauth.access_token(account)
            providers.push_metadata(
                account.platform,
                token,
                account.external_id,
                providers.Metadata(**resolved),
            )
            code = "platform.ok"
        except ApiError as exc:  # a template that no longer renders
            code = exc.code
        except (oauth.AccountUnusable, providers.PlatformApiError) as exc:
            code = exc.code
        PlatformMetadata.objects.filter(pk=row.pk).update(
            last_push_code=code, last_push_at=timezone.now()
        )
        result = PushResult(account.pk, account.platform, code)
        results.append(result)
        if not result.ok:
            logger.warning(
                "job %s: metadata not sent to %s (account %s): %s",
                job_id, account.platform, account.pk, code,
            )  # fmt: skip
            _hint(job_id, result)
    return results


def _hint(job_id: int, result: PushResult) -> None:
    from apps.streams.events import StreamLogEvent, logs_group
    from apps.streams.models import StreamRun
    from castcore.events import publish_now

    run_id = (
        StreamRun.objects.filter(job_id=job_id).order_by("-number").values_list("pk", flat=True)
    ).first()
    message = (
        f"The title and description were not sent to {result.platform} ({result.code}); "
        "the stream goes on with what the platform had."
    )
    line: StreamLogEvent = {
        "type": "stream.log",
        "job_id": job_id,
        "run_id": run_id or 0,
        "at": timezone.now().isoformat(),
        "level": "warning",
        "message": message,
        "component": "castcore",
        "hint_code": PUSH_FAILED,
        "hint": message,
        "line": f"[castcore] [warning] {message}",
    }
    publish_now([logs_group(job_id)], line)
