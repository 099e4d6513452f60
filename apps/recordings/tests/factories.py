from __future__ import annotations

import io
from typing import Any, cast

import factory
from django.core.files.base import ContentFile

from apps.accounts.models import User
from apps.accounts.tests.factories import UserFactory
from apps.recordings.models import Recording, TerminalStream, Visibility

CAST_V2 = (
    b'{"version": 2, "width": 80, "height": 24, "title": "factory"}\n'
    b'[0.5, "o", "hello\\r\\n"]\n'
    b'[1.25, "o", "world\\r\\n"]\n'
)


class RecordingFactory(factory.django.DjangoModelFactory[Recording]):
    """A terminal recording with a small valid v2 file in storage."""

    class Meta:
        model = Recording

    kind = Recording.Kind.TERMINAL
    owner = factory.SubFactory(UserFactory)
    title = factory.Sequence(lambda n: f"Recording {n}")
    visibility = Visibility.PUBLIC
    file = factory.LazyAttribute(lambda _: ContentFile(CAST_V2, name="recordings/terminal/f.cast"))
    size = len(CAST_V2)
    duration = 1.25
    asciicast_version: int | None = 2
    cols: int | None = 80
    rows: int | None = 24


class VideoRecordingFactory(RecordingFactory):
    """A video recording; the file is a few bytes named .mp4 (pages and ranges only)."""

    kind = Recording.Kind.VIDEO
    file = factory.LazyAttribute(
        lambda _: ContentFile(b"\x00" * 2048, name="recordings/video/v.mp4")
    )
    size = 2048
    asciicast_version: int | None = None
    cols: int | None = None
    rows: int | None = None


class TemporaryUserFactory(UserFactory):
    is_temporary = True


class TerminalStreamFactory(factory.django.DjangoModelFactory[TerminalStream]):
    class Meta:
        model = TerminalStream

    owner = factory.SubFactory(UserFactory)
    title = factory.Sequence(lambda n: f"Stream {n}")

    @classmethod
    def _create(cls, model_class: Any, *args: Any, **kwargs: Any) -> Any:
        from apps.recordings.stream_services import stream_create

        owner = kwargs.pop("owner")
        return stream_create(owner=owner, **kwargs)


def upload(data: bytes = CAST_V2, name: str = "demo.cast") -> io.BytesIO:
    buffer = io.BytesIO(data)
    buffer.name = name
    return buffer


# Typed entry points for tests (factory_boy's calls are untyped for mypy).
def a_user(**kwargs: Any) -> User:
    return cast(User, UserFactory(**kwargs))


def a_temporary_user(**kwargs: Any) -> User:
    return cast(User, TemporaryUserFactory(**kwargs))


def a_recording(**kwargs: Any) -> Recording:
    return cast(Recording, RecordingFactory(**kwargs))


def a_video(**kwargs: Any) -> Recording:
    return cast(Recording, VideoRecordingFactory(**kwargs))


def a_stream(**kwargs: Any) -> TerminalStream:
    return cast(TerminalStream, TerminalStreamFactory(**kwargs))
