from __future__ import annotations

from pathlib import Path
from typing import Any

from rest_framework import serializers

from apps.media.codes import explain
from apps.media.models import (
    Asset,
    AssetKindChoice,
    MediaItem,
    MediaScan,
    SourceKind,
    StorageSource,
)
from apps.media.selectors import asset_url
from apps.media.storage.base import CHECK_ORDER, ConfigError, StorageError
from apps.media.storage.local import list_dir
from castcore.api.errors import ApiError
from castcore.api.fields import ChoiceField, ModelSerializer, SecretField

#: Config fields named differently in the API.
_API_FIELDS = {"options": "mount_options"}

_REQUIRED: dict[str, tuple[str, ...]] = {
    SourceKind.LOCAL: ("path",),
    SourceKind.S3: ("endpoint_url", "bucket", "access_key", "secret_key"),
    SourceKind.SMB: ("host", "share", "username", "password"),
    SourceKind.NFS: ("host", "export"),
}


class StorageSourceSerializer(ModelSerializer[StorageSource]):
    password = SecretField(required=False, allow_blank=True, help_text="SMB password")
    secret_key = SecretField(required=False, allow_blank=True, help_text="S3 secret key")
    # Half of the S3 credential pair, and Operators read sources: masked like the secret.
    access_key = SecretField(
        required=False, allow_blank=True, max_length=128, help_text="S3 access key id"
    )
    extensions = serializers.ListField(
        child=serializers.RegexField(r"^\.[A-Za-z0-9]{1,10}$"), required=False, max_length=50
    )
    scan_parallelism = serializers.IntegerField(min_value=1, max_value=16, required=False)
    probe_timeout = serializers.IntegerField(min_value=1, max_value=600, required=False)
    port = serializers.IntegerField(min_value=1, max_value=65535, required=False, allow_null=True)
    mounted_kind = serializers.BooleanField(source="is_mounted_kind", read_only=True)

    class Meta:
        model = StorageSource
        fields = [
            "id", "name", "kind", "enabled", "path", "host", "port", "share", "export", "domain",
            "username", "password", "mount_options", "endpoint_url", "region", "bucket", "prefix",
            "access_key", "secret_key", "use_path_style", "verify_tls", "scan_parallelism",
            "probe_timeout", "extensions", "mounted_kind", "mount_wanted", "last_scan_summary",
            "last_scanned_at", "created_at", "updated_at",
        ]  # fmt: skip
        read_only_fields = ["mount_wanted", "last_scan_summary", "last_scanned_at"]

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        instance = self.instance
        if instance is not None and "kind" in attrs and attrs["kind"] != instance.kind:
            # Items, index and mount belong to the old kind: make a new source instead.
            raise serializers.ValidationError(
                {"kind": serializers.ErrorDetail("cannot change", code="storage_source.kind_fixed")}
            )
        current = {
            f.attname: getattr(instance, f.attname)
            for f in StorageSource._meta.concrete_fields
            if instance is not None and not f.primary_key
        }
        merged = StorageSource(**{**current, **attrs})
        for name in _REQUIRED[merged.kind]:
            if not getattr(merged, name):
                raise serializers.ValidationError(
                    {name: serializers.ErrorDetail("required for this kind", code="required")}
                )
        try:
            merged.config().validate()
        except ConfigError as exc:
            field_name = _API_FIELDS.get(exc.field_name, exc.field_name)
            if exc.code != "storage.invalid_config":
                # A refused value (address, mount option): the client needs to know which.
                raise ApiError(
                    exc.code,
                    {"field": field_name, **exc.params, "detail": exc.detail,
                     "explanation": explain(exc.code)},
                ) from None  # fmt: skip
            raise serializers.ValidationError(
                {field_name: serializers.ErrorDetail(exc.detail, code=exc.code)}
            ) from None
        except StorageError as exc:
            raise serializers.ValidationError(
                serializers.ErrorDetail(exc.detail, code=exc.code)
            ) from None
        if merged.kind == SourceKind.LOCAL and (instance is None or "path" in attrs):
            _check_local_folder(merged.path)
        return attrs


def _check_local_folder(path: str) -> None:
    """A local source is saved only for a folder this process can list (`/test`'s check)."""
    try:
        list_dir(Path(path))
    except StorageError as exc:
        raise ApiError(
            exc.code, {"field": "path", "detail": exc.detail, "explanation": explain(exc.code)}
        ) from None


class CheckSerializer(serializers.Serializer[Any]):
    name = ChoiceField(choices=list(CHECK_ORDER))
    ok = serializers.BooleanField()
    skipped = serializers.BooleanField()
    code = serializers.CharField(allow_null=True, help_text="e.g. storage.auth_failed")
    detail = serializers.CharField(help_text="what happened, in plain words")
    explanation = serializers.CharField(help_text="what the code means and what to check")

    def to_representation(self, instance: Any) -> dict[str, Any]:
        return {
            "name": instance.name, "ok": instance.ok, "skipped": instance.skipped,
            "code": instance.code, "detail": instance.detail, "explanation": explain(instance.code),
        }  # fmt: skip


class SourceTestSerializer(serializers.Serializer[Any]):
    ok = serializers.BooleanField()
    checks = CheckSerializer(many=True)


class ScanRequestSerializer(serializers.Serializer[Any]):
    full = serializers.BooleanField(default=False, help_text="re-probe every file")


class MediaScanSerializer(ModelSerializer[MediaScan]):
    class Meta:
        model = MediaScan
        fields = [
            "id", "source", "state", "full", "total", "to_probe", "probed", "new", "changed",
            "unchanged", "missing", "failed", "progress", "errors", "error_code", "error_detail",
            "created_at", "started_at", "heartbeat_at", "finished_at",
        ]  # fmt: skip
        read_only_fields = fields


class MountStatusSerializer(serializers.Serializer[Any]):
    source_id = serializers.IntegerField()
    mountable = serializers.BooleanField(help_text="false for kinds read without a mount")
    mounted = serializers.BooleanField()
    mount_point = serializers.CharField(allow_null=True)
    fstype = serializers.CharField(allow_null=True)
    mount_wanted = serializers.BooleanField()


class MediaItemSerializer(ModelSerializer[MediaItem]):
    name = serializers.CharField(read_only=True)
    has_thumbnail = serializers.SerializerMethodField()

    class Meta:
        model = MediaItem
        fields = [
            "id", "source", "relpath", "name", "size", "mtime_ns", "missing", "missing_since",
            "probed_at", "probe_error_code", "probe_error_detail", "container", "duration",
            "bitrate", "video_codec", "width", "height", "frame_rate", "audio_codec",
            "has_thumbnail", "created_at", "updated_at",
        ]  # fmt: skip
        read_only_fields = fields

    def get_has_thumbnail(self, item: MediaItem) -> bool:
        return bool(item.thumbnail)


class MediaItemDetailSerializer(MediaItemSerializer):
    probe = serializers.JSONField(read_only=True, help_text="ffprobe's result: format and streams")

    class Meta(MediaItemSerializer.Meta):
        fields = [*MediaItemSerializer.Meta.fields, "probe"]
        read_only_fields = fields


class AssetSerializer(ModelSerializer[Asset]):
    file = serializers.FileField(write_only=True, help_text="the image or clip (multipart)")
    kind = ChoiceField(choices=AssetKindChoice.choices)
    name = serializers.CharField(required=False, allow_blank=True, max_length=120)
    url = serializers.SerializerMethodField()

    class Meta:
        model = Asset
        fields = [
            "id", "kind", "name", "file", "url", "mime", "width", "height", "duration", "sha256",
            "size", "uploaded_by", "created_at",
        ]  # fmt: skip
        read_only_fields = [
            "mime", "width", "height", "duration", "sha256", "size", "uploaded_by", "created_at",
        ]  # fmt: skip

    def get_url(self, asset: Asset) -> str:
        """Where the sanitized file is served from (MEDIA_URL)."""
        return asset_url(asset)
