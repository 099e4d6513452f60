"""Per-job platform metadata: templates stored, rendered in a sandbox, pushed on start."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

from apps.integrations import conf
from apps.integrations.outbox import outbox_dispatch
from apps.integrations.platforms.models import AccountKind, PlatformAccount, PlatformMetadata
from apps.integrations.platforms.push import platform_metadata_push
from apps.integrations.tests.platform_server import Platform, provider_settings, running_platform
from apps.streams.models import StreamJob
from apps.streams.tests.factories import job_with_outputs
from castcore.events import emit
from castcore.outbox.models import OutboxEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def job() -> StreamJob:
    return job_with_outputs({}, name="Morning show")


@pytest.fixture
def platform(monkeypatch: pytest.MonkeyPatch) -> Iterator[Platform]:
    with running_platform() as stand_in:
        monkeypatch.setitem(conf.PLATFORM_OAUTH, "twitch", provider_settings(stand_in.url))
        yield stand_in


def _put(api: APIClient, job: StreamJob, **body: object) -> object:
    return api.put(f"/api/v1/stream-jobs/{job.pk}/metadata/twitch", body, format="json")


def _resolve(api: APIClient, job: StreamJob, **body: object) -> dict[str, object]:
    response = api.post(
        "/api/v1/metadata/resolve", {"job": job.pk, "platform": "twitch", **body}, format="json"
    )
    return dict(response.json())


@override_settings(TIME_ZONE="Asia/Tokyo")
def test_templates_render_with_the_job_and_the_local_date(
    operator_api: APIClient, job: StreamJob
) -> None:
    from django.utils import timezone

    _put(
        operator_api,
        job,
        title="{{ job.name }} – {{ date }}",
        description="Live at {{ time }} ({{ timezone }})"
        "{% if channel %} on {{ channel.name }}{% endif %}",
        tags=["{{ weekday }}", "live"],
        privacy="public",
    )
    stored = operator_api.get(f"/api/v1/stream-jobs/{job.pk}/metadata/twitch").json()
    assert stored["title"] == "{{ job.name }} – {{ date }}"
    resolved = _resolve(operator_api, job)
    today = timezone.localtime().strftime("%Y-%m-%d")
    assert resolved["title"] == f"Morning show – {today}"
    assert "Asia/Tokyo" in str(resolved["description"]) and "on " not in str(
        resolved["description"]
    )
    assert resolved["tags"] == [timezone.localtime().strftime("%A"), "live"]


def test_resolve_tries_unsaved_templates(viewer_api: APIClient, job: StreamJob) -> None:
    assert _resolve(viewer_api, job, title="{{ job.name | upper }}")["title"] == "MORNING SHOW"


@pytest.mark.parametrize(
    "template",
    [
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ job.update({'name': 'x'}) }}",
        "{{ 'x' * 100000 }}",
        "{{ 2 ** 100000 }}",
        "{{ range(10) | list }}",
        "{% for %}",
    ],
)
def test_a_broken_or_unsafe_template_is_refused_with_a_code(
    operator_api: APIClient, job: StreamJob, template: str
) -> None:
    body = _resolve(operator_api, job, title=template)
    assert body["error"]["code"] == "metadata.template_invalid"  # type: ignore[index]
    assert body["error"]["params"]["field"] == "title"  # type: ignore[index]


@pytest.mark.parametrize(
    ("template", "construct"),
    [
        # Each would run for hours or build gigabytes inside the sandbox.
        ("{% for a in 'x' * 9999 %}{% for b in 'x' * 9999 %}{{ a }}{% endfor %}{% endfor %}",
         "For"),
        ("{{ 'x'.center(1000000000) }}", "Call"),
        ("{{ job.name | center(1000000000) }}", "Filter"),
        ("{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}", "Macro"),
        ("{% set x = 'y' %}{{ x }}", "Assign"),
    ],
)  # fmt: skip
def test_loops_calls_and_growing_filters_are_refused_before_anything_runs(
    operator_api: APIClient, job: StreamJob, template: str, construct: str
) -> None:
    for response in (
        _put(operator_api, job, title=template),
        operator_api.post(
            "/api/v1/metadata/resolve",
            {"job": job.pk, "platform": "twitch", "title": template},
            format="json",
        ),
    ):
        error = response.json()["error"]  # type: ignore[attr-defined]
        assert response.status_code == 400  # type: ignore[attr-defined]
        assert error["code"] == "metadata.template_invalid"
        assert error["params"]["construct"] == construct


def test_an_unsafe_attribute_renders_as_nothing(operator_api: APIClient, job: StreamJob) -> None:
    assert _resolve(operator_api, job, title="a{{ job.name.__class__ }}b")["title"] == "ab"


def test_a_template_that_does_not_parse_is_not_stored(
    operator_api: APIClient, job: StreamJob
) -> None:
    response = _put(operator_api, job, title="{% if %}")
    assert response.status_code == 400  # type: ignore[attr-defined]
    assert not PlatformMetadata.objects.exists()


def test_viewers_cannot_write_and_unknown_platforms_are_404(
    viewer_api: APIClient, operator_api: APIClient, job: StreamJob
) -> None:
    assert _put(viewer_api, job, title="x").status_code == 403  # type: ignore[attr-defined]
    response = operator_api.get(f"/api/v1/stream-jobs/{job.pk}/metadata/myspace")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "platform.unknown"


def _linked_output(platform: Platform) -> StreamJob:
    token = platform.issue()
    account = PlatformAccount.objects.create(
        name="T", platform="twitch", kind=AccountKind.OAUTH,
        access_token=token["access_token"], refresh_token=token["refresh_token"],
        external_id="4711",
    )  # fmt: skip
    job = job_with_outputs({"platform_account": account}, name="Evening show")
    PlatformMetadata.objects.create(job=job, platform="twitch", title="{{ job.name }}!", tags=["a"])
    return job


def test_a_started_job_sends_its_resolved_metadata(platform: Platform) -> None:
    job = _linked_output(platform)
    emit(
        "stream_job.started",
        {"stream_job_id": job.pk, "name": job.name, "state": "running", "previous_state": None,
         "reason": ""},
        subject=f"stream_job:{job.pk}",
    )  # fmt: skip
    event = OutboxEvent.objects.get(event_type="stream_job.started")
    assert outbox_dispatch(event_id=event.pk).metadata_jobs == [job.pk]
    results = platform_metadata_push(job_id=job.pk)
    assert [r.code for r in results] == ["platform.ok"]
    assert platform.pushed == [
        {"path": "/helix/channels", "body": {"title": "Evening show!", "tags": ["a"]}}
    ]
    assert PlatformMetadata.objects.get().last_push_code == "platform.ok"


def test_a_refused_push_is_a_hint_and_the_job_runs_on(platform: Platform) -> None:
    job = _linked_output(platform)
    state = job.state
    platform.fail_metadata = True
    results = platform_metadata_push(job_id=job.pk)
    assert [r.code for r in results] == ["platform.api_error"]
    assert PlatformMetadata.objects.get().last_push_code == "platform.api_error"
    job.refresh_from_db()
    assert job.state == state


def test_the_failure_hint_reaches_the_jobs_live_log(platform: Platform) -> None:
    import asyncio

    from asgiref.sync import async_to_sync, sync_to_async
    from channels.layers import get_channel_layer

    from apps.streams.events import logs_group

    job = _linked_output(platform)
    platform.fail_metadata = True
    layer = get_channel_layer()
    assert layer is not None

    async def listen_while_pushing() -> dict[str, object]:
        # One event loop for the whole exchange: a pub/sub layer's channels live in it.
        listener = await layer.new_channel()
        await layer.group_add(logs_group(job.pk), listener)
        await sync_to_async(platform_metadata_push)(job_id=job.pk)
        return dict(await asyncio.wait_for(layer.receive(listener), 10))

    frame = async_to_sync(listen_while_pushing)()
    assert frame["hint_code"] == "platform.metadata_push_failed"
    assert frame["level"] == "warning" and "twitch" in str(frame["message"])
