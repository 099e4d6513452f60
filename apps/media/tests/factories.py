from __future__ import annotations

from typing import Any, cast

import factory

from apps.media.models import MediaItem, SourceKind, StorageSource


class StorageSourceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = StorageSource

    name = factory.Sequence(lambda n: f"source {n}")
    kind = SourceKind.LOCAL
    path = "/srv/media"


class SMBSourceFactory(StorageSourceFactory):
    kind = SourceKind.SMB
    path = ""
    host = "127.0.0.1"
    port = 445
    share = "media"
    username = "castcore"
    password = "smb-password-123"


class S3SourceFactory(StorageSourceFactory):
    kind = SourceKind.S3
    path = ""
    endpoint_url = "http://127.0.0.1:9"
    region = "us-east-1"
    bucket = "media"
    access_key = "AKIAEXAMPLE"
    secret_key = "s3-secret-key-abcdef"


class MediaItemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = MediaItem

    source = factory.SubFactory(StorageSourceFactory)
    relpath = factory.Sequence(lambda n: f"clips/clip{n}.mp4")
    size = 1000
    mtime_ns = 1_700_000_000_000_000_000
    container = "mov,mp4,m4a,3gp,3g2,mj2"
    video_codec = "h264"
    audio_codec = "aac"
    width = 1280
    height = 720
    duration = 60.0

    @factory.lazy_attribute
    def probed_at(self) -> Any:
        from django.utils import timezone

        return timezone.now()


# Typed entry points for tests: factory_boy's classes are untyped for mypy.
def make_source(**fields: Any) -> StorageSource:
    return cast(StorageSource, StorageSourceFactory(**fields))


def make_smb_source(**fields: Any) -> StorageSource:
    return cast(StorageSource, SMBSourceFactory(**fields))


def make_s3_source(**fields: Any) -> StorageSource:
    return cast(StorageSource, S3SourceFactory(**fields))


def make_item(**fields: Any) -> MediaItem:
    return cast(MediaItem, MediaItemFactory(**fields))
