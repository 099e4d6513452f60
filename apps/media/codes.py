"""Plain explanations and HTTP statuses for storage and mount error codes.

The code is the contract (clients translate it); the explanation is what an
operator reads next to it in the test report, so it says what to check.
"""

from __future__ import annotations

from apps.media.storage.base import StorageError
from castcore.api.errors import ApiError
from castcore.api.schema import error_statuses_for

EXPLANATIONS: dict[str, str] = {
    "storage.dns_failed": "The host name could not be resolved: check its spelling and this "
    "server's DNS settings.",
    "storage.unreachable": "Nothing answered at that address and port: check the host, the "
    "port and any firewall in between.",
    "storage.timeout": "The server did not answer in time: it may be down, overloaded or "
    "behind a firewall that drops packets.",
    "storage.auth_failed": "The server rejected the credentials: check the user name or access "
    "key and the password or secret.",
    "storage.permission_denied": "The credentials were accepted but may not do this: grant list "
    "and read permission on the location.",
    "storage.not_found": "The folder, share, export, bucket or file does not exist.",
    "storage.not_listable": "The location exists but its contents could not be listed.",
    "storage.not_readable": "Files are listed but could not be read.",
    "storage.invalid_config": "A setting of this source can never work: fix the field named in "
    "the detail.",
    "storage.address_not_allowed": "The host is, or resolves to, an address the address policy "
    "refuses: link-local or cloud metadata (CASTCORE_ALLOW_LINK_LOCAL_TARGETS lifts this), or "
    "private while CASTCORE_ALLOW_PRIVATE_TARGETS is off (params.reason says which).",
    "storage.mount_option_not_allowed": "That mount option could weaken the read-only, "
    "no-exec mount or is unknown: use only protocol and tuning options (vers=, proto=, "
    "timeo=, rsize=, soft, nolock, ...).",
    "storage.redirected": "The endpoint answers with a redirect that names no bucket region, "
    "so the bucket cannot be reached there: use the URL it redirects to as the endpoint.",
    "storage.error": "The server answered with an unexpected error; the detail has its message.",
    "mount.not_mounted": "This kind of source is read through a mount: mount it first.",
    "mount.not_mountable": "Only SMB and NFS sources are mounted; this kind is read directly.",
    "mount.fs_unsupported": "This machine's kernel cannot mount this filesystem (module missing, "
    "or a container without it): mount the share on the host and use a local source.",
    "mount.helper_missing": "The mount helper is not installed: install cifs-utils (SMB) or "
    "nfs-common (NFS).",
    "mount.not_permitted": "This process may not mount filesystems: it needs root or "
    "CAP_SYS_ADMIN.",
    "mount.timeout": "The mount did not finish in time and was stopped: check that the server "
    "is reachable.",
    "mount.failed": "The mount tool failed; the detail has its message.",
    "mount.invalid_source": "The source cannot be mounted as configured.",
    "mount.still_mounted": "The source could not be unmounted; unmount it before deleting.",
}

_STATUS: dict[str, int] = {
    "storage.invalid_config": 400,
    "storage.address_not_allowed": 400,
    "storage.mount_option_not_allowed": 400,
    "mount.invalid_source": 400,
    "mount.not_mounted": 409,
    "mount.not_mountable": 409,
    "mount.still_mounted": 409,
    # This machine cannot do it, whatever the request says: 422, never a hang.
    "mount.fs_unsupported": 422,
    "mount.helper_missing": 422,
    "mount.not_permitted": 422,
    "mount.timeout": 504,
    "storage.timeout": 504,
    "storage.not_found": 404,
}

# The storage server said no: a bad gateway.
_OTHERWISE = 502

#: For the schema: what a view that answers storage and mount errors can answer.
ERROR_STATUSES = error_statuses_for({code: _STATUS.get(code, _OTHERWISE) for code in EXPLANATIONS})


def status_of(code: str) -> int:
    return _STATUS.get(code, _OTHERWISE)


def explain(code: str | None) -> str:
    return EXPLANATIONS.get(code or "", "") if code else ""


def storage_api_error(exc: StorageError) -> ApiError:
    """The API error for a storage/mount failure: the code, its detail and explanation."""
    params = {"detail": exc.detail, "explanation": explain(exc.code)}
    return ApiError(exc.code, params, status_code=status_of(exc.code))
