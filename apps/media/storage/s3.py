"""S3-compatible object storage through boto3, read by ffmpeg over presigned URLs."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ProxyConnectionError,
    ReadTimeoutError,
)

from workers.ffmpeg.egress import REFUSED_HEADER, REFUSED_REASON, proxy_url

from .base import (
    DEFAULT_TIMEOUT,
    Backend,
    CheckResult,
    MediaLocation,
    RemoteEntry,
    S3Config,
    StorageError,
    check_tcp,
    normalize_relpath,
    run_checks,
    scrub,
)

# The signature covers the secret; these codes mean the server rejected who we are.
_AUTH_CODES = frozenset(
    {
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "InvalidToken",
        "ExpiredToken",
        "TokenRefreshRequired",
        "AuthorizationHeaderMalformed",
        "InvalidSecurity",
    }
)
_NOT_FOUND_CODES = frozenset({"NoSuchBucket", "NoSuchKey", "404", "NotFound"})
_DENIED_CODES = frozenset({"AccessDenied", "403", "AllAccessDisabled", "AccountProblem"})

FFMPEG_WHITELIST = "http,https,tls,tcp,crypto"


def _refused(exc: Exception) -> bool:
    """Whether the egress proxy refused the connection (address policy)."""
    if isinstance(exc, ProxyConnectionError):  # https: CONNECT answered 403
        return REFUSED_REASON in str(exc)
    if isinstance(exc, ClientError):  # http: the request answered 403
        headers = exc.response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
        return REFUSED_HEADER.lower() in {name.lower() for name in headers}
    return False


class EndpointRedirects(BotoCoreError):
    """The endpoint answered with a redirect that names no bucket region."""

    fmt = "The endpoint redirects the request without naming the bucket's region"


def _refuse_redirect_loop(response: Any = None, **kwargs: Any) -> None:
    """End botocore's region redirect when the endpoint redirects its HeadBucket too.

    On a redirect botocore asks HeadBucket where the bucket is, and handles that
    request's redirect the same way: an endpoint that answers every request with a
    301 or 307 sent it round until a RecursionError (a 500 from the API). CastCore
    never calls HeadBucket itself; a real S3 names the region (x-amz-bucket-region),
    and that redirect is still followed.
    """
    http = response[0] if response else None
    if http is None:
        return  # no answer at all: botocore's own retry rules apply
    if 300 <= http.status_code < 400 and "x-amz-bucket-region" not in http.headers:
        raise EndpointRedirects()


class S3Backend(Backend):
    """One bucket (and optional key prefix) on any S3-speaking server."""

    def __init__(
        self,
        config: S3Config,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        presign_expires: int = 900,
    ) -> None:
        config.validate()
        self.config = config
        self.timeout = timeout
        # ffmpeg re-requests byte ranges while it plays, so the URL must outlive the read;
        # callers that play long files pass their duration plus a margin.
        self.presign_expires = presign_expires
        self._base = normalize_relpath(config.prefix, "prefix")
        # Every request goes through the egress proxy, which checks the address policy
        # when it connects: the endpoint's name may resolve elsewhere than at validate().
        proxy = proxy_url()
        self._client: Any = boto3.session.Session().client(
            "s3",
            endpoint_url=config.endpoint_url,
            region_name=config.region,
            aws_access_key_id=config.access_key,
            aws_secret_access_key=config.secret_key,
            verify=config.verify_tls,
            config=Config(
                connect_timeout=timeout,
                read_timeout=timeout,
                # One attempt: test() must answer within the timeout, not after retries.
                retries={"mode": "standard", "total_max_attempts": 1},
                signature_version="s3v4",
                s3={"addressing_style": "path" if config.use_path_style else "virtual"},
                proxies={"http": proxy, "https": proxy},
            ),
        )
        self._client.meta.events.register_first("needs-retry.s3.HeadBucket", _refuse_redirect_loop)

    def __repr__(self) -> str:
        return f"S3Backend({self.config!r})"

    # --- helpers ---------------------------------------------------------------------

    def _key(self, relpath: str) -> str:
        rel = normalize_relpath(relpath)
        return f"{self._base}/{rel}" if self._base else rel

    def _error(self, exc: Exception, what: str) -> StorageError:
        """Turn a botocore exception into a coded error with a secret-free message."""
        if _refused(exc):
            return StorageError(
                "storage.address_not_allowed",
                f"{what}: the endpoint resolves to an address the address policy refuses",
            )
        if isinstance(exc, ConnectTimeoutError | ReadTimeoutError):
            return StorageError("storage.timeout", f"{what}: no answer within {self.timeout:g}s")
        if isinstance(exc, EndpointConnectionError | ConnectionClosedError):
            return StorageError("storage.unreachable", f"{what}: cannot connect to the endpoint")
        if isinstance(exc, EndpointRedirects):
            return StorageError(
                "storage.redirected",
                f"{what}: the endpoint answers with a redirect; use the URL it redirects to",
            )
        if isinstance(exc, ClientError):
            error = exc.response.get("Error", {})
            code = str(error.get("Code", ""))
            message = scrub(str(error.get("Message", "")), self.config.secrets())
            if code in _AUTH_CODES:
                return StorageError("storage.auth_failed", f"{what}: {code} ({message})")
            if code in _NOT_FOUND_CODES:
                return StorageError("storage.not_found", f"{what}: {code} {message}".rstrip())
            if code in _DENIED_CODES:
                return StorageError("storage.permission_denied", f"{what}: {code} {message}")
            return StorageError("storage.error", f"{what}: {code} {message}")
        if isinstance(exc, BotoCoreError):
            return StorageError("storage.error", f"{what}: {type(exc).__name__}")
        raise exc

    # --- Backend ---------------------------------------------------------------------

    def test(self) -> list[CheckResult]:
        parts = urlsplit(self.config.endpoint_url)
        host = parts.hostname or ""
        port = parts.port or (443 if parts.scheme == "https" else 80)
        bucket = self.config.bucket
        listing: dict[str, Any] = {}

        def credentials() -> str:
            # There is no portable "who am I" call on S3 servers, so the first listing
            # doubles as the credentials check; its other failures belong to 'listable'.
            try:
                listing["response"] = self._client.list_objects_v2(
                    Bucket=bucket, Prefix=f"{self._base}/" if self._base else "", MaxKeys=5
                )
            except (ClientError, BotoCoreError) as exc:
                err = self._error(exc, f"bucket {bucket!r}")
                if err.code in (
                    "storage.auth_failed",
                    "storage.timeout",
                    "storage.unreachable",
                    "storage.redirected",
                ):
                    raise err from exc
                listing["error"] = err
            return "the server accepted the access key and signature"

        def listable() -> str:
            if "error" in listing:
                error: StorageError = listing["error"]
                if error.code == "storage.error":
                    error = StorageError("storage.not_listable", error.detail)
                raise error
            count = listing["response"].get("KeyCount", 0)
            return f"listed bucket {bucket!r} ({count} keys in the first page)"

        def readable() -> str:
            keys = [o["Key"] for o in listing["response"].get("Contents", [])]
            keys = [k for k in keys if not k.endswith("/")]
            if not keys:
                return "no objects yet, nothing to read"
            try:
                self._client.get_object(Bucket=bucket, Key=keys[0], Range="bytes=0-0")[
                    "Body"
                ].read()
            except (ClientError, BotoCoreError) as exc:
                err = self._error(exc, f"object {keys[0]!r}")
                if err.code == "storage.error":
                    err = StorageError("storage.not_readable", err.detail)
                raise err from exc
            return f"read the first byte of {keys[0]!r}"

        return run_checks(
            [
                (
                    "reachable",
                    lambda: check_tcp(host, port, self.timeout, addresses=self.config.addresses),
                ),
                ("credentials", credentials),
                ("listable", listable),
                ("readable", readable),
            ]
        )

    def iter_files(self, prefix: str = "") -> Iterator[RemoteEntry]:
        base = f"{self._base}/" if self._base else ""
        sub = normalize_relpath(prefix, "prefix")
        paginator = self._client.get_paginator("list_objects_v2")
        try:
            pages = paginator.paginate(
                Bucket=self.config.bucket, Prefix=base + (f"{sub}/" if sub else "")
            )
            for page in pages:
                for obj in page.get("Contents", []):
                    key: str = obj["Key"]
                    if key.endswith("/"):
                        continue  # "folder" marker objects made by some consoles
                    modified = obj["LastModified"]
                    yield RemoteEntry(
                        relpath=key[len(base) :],
                        size=int(obj["Size"]),
                        mtime_ns=int(modified.timestamp()) * 1_000_000_000,
                    )
        except (ClientError, BotoCoreError) as exc:
            raise self._error(exc, f"listing bucket {self.config.bucket!r}") from exc

    def open_for_ffmpeg(self, relpath: str) -> MediaLocation:
        key = self._key(relpath)
        params = {"Bucket": self.config.bucket, "Key": key}
        try:
            # A HEAD first turns "missing object" into storage.not_found instead of an
            # opaque HTTP 404 inside ffmpeg's log.
            self._client.head_object(**params)
        except (ClientError, BotoCoreError) as exc:
            raise self._error(exc, f"object {relpath!r}") from exc
        url = self._client.generate_presigned_url(
            "get_object", Params=params, ExpiresIn=self.presign_expires
        )
        return MediaLocation(url, FFMPEG_WHITELIST)

    # --- writes (the live HLS mirror: apps/streams/live/cdn.py) ------------------------

    def _writer(self) -> Any:
        """A client for writes, checked against the address policy before each use.

        The egress proxy forwards reads only (GET and HEAD: what ffmpeg's inputs do), so
        writes cannot take it; they connect directly, after the same check of the
        endpoint's addresses the proxy makes (S3Config.validate resolves the name again).
        """
        self.config.validate()
        if getattr(self, "_write_client", None) is None:
            self._write_client: Any = boto3.session.Session().client(
                "s3",
                endpoint_url=self.config.endpoint_url,
                region_name=self.config.region,
                aws_access_key_id=self.config.access_key,
                aws_secret_access_key=self.config.secret_key,
                verify=self.config.verify_tls,
                config=Config(
                    connect_timeout=self.timeout,
                    read_timeout=self.timeout,
                    retries={"mode": "standard", "total_max_attempts": 1},
                    signature_version="s3v4",
                    s3={"addressing_style": "path" if self.config.use_path_style else "virtual"},
                ),
            )
        return self._write_client

    def put_file(self, relpath: str, body: bytes, *, content_type: str, cache_control: str) -> None:
        """Write `body` at `relpath` (under the prefix), with the headers a CDN serves."""
        try:
            self._writer().put_object(
                Bucket=self.config.bucket,
                Key=self._key(relpath),
                Body=body,
                ContentType=content_type,
                CacheControl=cache_control,
            )
        except (ClientError, BotoCoreError) as exc:
            raise self._error(exc, f"writing {relpath!r}") from exc

    def delete_files(self, relpaths: list[str]) -> None:
        """Delete the objects at `relpaths` (missing ones are no error), 1,000 a request."""
        keys = [{"Key": self._key(relpath)} for relpath in relpaths]
        for start in range(0, len(keys), 1000):
            try:
                self._writer().delete_objects(
                    Bucket=self.config.bucket,
                    Delete={"Objects": keys[start : start + 1000], "Quiet": True},
                )
            except (ClientError, BotoCoreError) as exc:
                raise self._error(exc, f"deleting {len(relpaths)} objects") from exc
