"""Writes of the accounts app: users, API tokens, two-factor, login and logout."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import authenticate, password_validation, user_logged_in, user_login_failed
from django.core import signing
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.tokens import RefreshToken

from apps.accounts.audit import audit_record, update_audited
from apps.accounts.lockout import raise_if_locked
from apps.accounts.models import TOKEN_PREFIX, ApiToken, User, UserPreferences
from apps.accounts.roles import Role
from castcore.api.errors import ApiError, Conflict
from castcore.secrets import remember, remember_matched

# How often a token's last_used_at is written: per request would make every
# authenticated GET a database write.
TOKEN_TOUCH_INTERVAL = timedelta(minutes=1)
_CHALLENGE_SALT = "castcore.accounts.2fa-challenge"


def hash_secret(raw: str) -> str:
    """SHA-256 of a high-entropy secret: fit for lookup, useless to a thief."""
    return hashlib.sha256(raw.encode()).hexdigest()


# --- Users -----------------------------------------------------------------


def _check_password(password: str, user: User | None = None) -> None:
    from django.core.exceptions import ValidationError as DjangoValidationError

    try:
        password_validation.validate_password(password, user)
    except DjangoValidationError as exc:
        codes = [error.code or "invalid" for error in exc.error_list]
        raise ApiError(f"validation.{codes[0]}", {"field": "password", "codes": codes}) from None


@transaction.atomic
def user_create(
    *,
    actor: Any,
    username: str,
    password: str,
    email: str = "",
    first_name: str = "",
    last_name: str = "",
    role: str = Role.VIEWER,
    is_active: bool = True,
    request: HttpRequest | None = None,
) -> User:
    if User.objects.filter(username__iexact=username).exists():
        raise Conflict("user.username_taken", {"field": "username"})
    user = User(
        username=username,
        email=email,
        first_name=first_name,
        last_name=last_name,
        role=role,
        is_active=is_active,
    )
    _check_password(password, user)
    user.set_password(password)
    user.save()
    user_create_audit(actor=actor, user=user, request=request)
    return user


def user_create_audit(
    *,
    actor: Any,
    user: User,
    request: HttpRequest | None = None,
    extra_changes: dict[str, Any] | None = None,
) -> None:
    """The `user.create` entry, alike for the API and manage.py createsuperuser."""
    audit_record(
        actor=actor,
        action="user.create",
        target=user,
        changes={
            "username": [None, user.username],
            "email": [None, user.email],
            "role": [None, user.role],
            **(extra_changes or {}),
        },
        request=request,
    )


# What an entry shows of a password: that it was set, never a character of it.
PASSWORD_SET = ["••••", "••••"]


def user_password_change_audit(
    *, actor: Any, user: User, request: HttpRequest | None = None
) -> None:
    """The `user.password_change` entry (manage.py changepassword), the password masked."""
    audit_record(
        actor=actor,
        action="user.password_change",
        target=user,
        changes={"password": PASSWORD_SET},
        request=request,
    )


def _admins_left_after(user: User, *, role: str | None, is_active: bool | None) -> int:
    others = User.objects.filter(role=Role.ADMIN, is_active=True).exclude(pk=user.pk).count()
    stays_admin = (role or user.role) == Role.ADMIN and (
        user.is_active if is_active is None else is_active
    )
    return others + (1 if stays_admin else 0)


@transaction.atomic
def user_update(
    *,
    actor: Any,
    user: User,
    request: HttpRequest | None = None,
    password: str | None = None,
    **fields: Any,
) -> User:
    user = User.objects.select_for_update().get(pk=user.pk)
    if (
        user.role == Role.ADMIN
        and _admins_left_after(user, role=fields.get("role"), is_active=fields.get("is_active"))
        == 0
    ):
        raise Conflict("user.last_admin")
    if password:
        _check_password(password, user)
        user.set_password(password)
    update_audited(
        user,
        fields,
        actor=actor,
        action="user.update",
        request=request,
        # User.save() derives is_staff from the role.
        also_save=["is_staff", *(["password"] if password else [])],
        extra_changes={"password": PASSWORD_SET} if password else None,
    )
    return user


@transaction.atomic
def user_delete(*, actor: Any, user: User, request: HttpRequest | None = None) -> None:
    if actor is not None and actor.pk == user.pk:
        raise Conflict("user.cannot_delete_self")
    if user.role == Role.ADMIN and _admins_left_after(user, role=Role.VIEWER, is_active=False) == 0:
        raise Conflict("user.last_admin")
    audit_record(actor=actor, action="user.delete", target=user, request=request)
    user.delete()


def preferences_for(user: User) -> UserPreferences:
    preferences, _ = UserPreferences.objects.get_or_create(user=user)
    return preferences


# --- API tokens --------------------------------------------------------------


@dataclass(frozen=True)
class IssuedToken:
    token: ApiToken
    raw: str  # shown once, never stored


@transaction.atomic
def api_token_create(
    *,
    user: User,
    name: str,
    read_only: bool = False,
    expires_at: datetime | None = None,
    request: HttpRequest | None = None,
) -> IssuedToken:
    if expires_at is not None and expires_at <= timezone.now():
        raise ApiError("validation.expires_in_past", {"field": "expires_at"})
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    remember(raw)
    token = ApiToken.objects.create(
        user=user,
        name=name,
        token_hash=hash_secret(raw),
        last4=raw[-4:],
        read_only=read_only,
        expires_at=expires_at,
    )
    audit_record(
        actor=user,
        action="api_token.create",
        target=token,
        changes={"name": [None, name], "read_only": [None, read_only]},
        request=request,
    )
    return IssuedToken(token=token, raw=raw)


def api_token_revoke(
    *, actor: Any, token: ApiToken, request: HttpRequest | None = None
) -> ApiToken:
    # Revoking twice is a no-op, not an error: the outcome the caller wants holds.
    ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    token.refresh_from_db()
    audit_record(actor=actor, action="api_token.revoke", target=token, request=request)
    return token


def api_token_authenticate(raw: str) -> ApiToken | None:
    """The usable token for a raw `cc_…` value, or None."""
    if not raw.startswith(TOKEN_PREFIX):
        return None
    token = remember_matched(
        raw, ApiToken.objects.select_related("user").filter(token_hash=hash_secret(raw)).first()
    )
    if token is None or not token.is_usable() or not token.user.is_active:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > TOKEN_TOUCH_INTERVAL:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token


# --- Two-factor (TOTP) --------------------------------------------------------


@dataclass(frozen=True)
class Enrolment:
    device: TOTPDevice
    secret_base32: str
    provisioning_uri: str


def totp_enroll(*, user: User, request: HttpRequest | None = None) -> Enrolment:
    import base64

    if TOTPDevice.objects.filter(user=user, confirmed=True).exists():
        raise Conflict("auth.2fa_already_enrolled")
    with transaction.atomic():
        # A new enrolment replaces any earlier one that was never confirmed.
        TOTPDevice.objects.filter(user=user, confirmed=False).delete()
        device = TOTPDevice.objects.create(user=user, name="default", confirmed=False)
    secret = base64.b32encode(device.bin_key).decode().rstrip("=")
    remember(secret)
    audit_record(actor=user, action="auth.2fa_enroll", target=user, request=request)
    return Enrolment(device=device, secret_base32=secret, provisioning_uri=device.config_url)


def _verify_code(device: TOTPDevice, code: str) -> bool:
    # django-otp refuses a code whose time step was already used (last_t), so
    # a code that worked once can never work again.
    return bool(code) and code.isdigit() and device.verify_token(code)


def totp_confirm(*, user: User, code: str, request: HttpRequest | None = None) -> TOTPDevice:
    device = TOTPDevice.objects.filter(user=user, confirmed=False).first()
    if device is None:
        raise Conflict("auth.2fa_not_enrolling")
    if not _verify_code(device, code):
        raise ApiError("auth.2fa_invalid_code", {"field": "code"})
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    audit_record(actor=user, action="auth.2fa_confirm", target=user, request=request)
    return device


def totp_disable(*, user: User, code: str, request: HttpRequest | None = None) -> None:
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    if device is None:
        raise Conflict("auth.2fa_not_enrolled")
    if not _verify_code(device, code):
        raise ApiError("auth.2fa_invalid_code", {"field": "code"})
    TOTPDevice.objects.filter(user=user).delete()
    audit_record(actor=user, action="auth.2fa_disable", target=user, request=request)


# --- Login / logout -----------------------------------------------------------


@dataclass(frozen=True)
class LoginResult:
    """Either tokens, or a challenge to exchange at /auth/2fa/verify."""

    user: User
    access: str | None = None
    refresh: str | None = None
    challenge: str | None = None


def _issue_tokens(user: User, request: HttpRequest) -> LoginResult:
    refresh = RefreshToken.for_user(user)
    # Signals django-axes (reset failures) and updates last_login.
    user_logged_in.send(sender=User, request=request, user=user)
    audit_record(actor=user, action="auth.login", target=user, request=request)
    return LoginResult(user=user, access=str(refresh.access_token), refresh=str(refresh))


def login_password(*, request: HttpRequest, username: str, password: str) -> LoginResult:
    credentials = {"username": username}
    raise_if_locked(request, credentials)
    user = authenticate(request, username=username, password=password)
    # authenticate() both fails and locks out by returning None; tell them apart.
    raise_if_locked(request, credentials)
    if user is None or not isinstance(user, User):
        raise ApiError("auth.invalid_credentials", status_code=401)
    if user.has_2fa:
        challenge = signing.dumps({"uid": user.pk, "n": secrets.token_hex(8)}, salt=_CHALLENGE_SALT)
        return LoginResult(user=user, challenge=challenge)
    return _issue_tokens(user, request)


def login_verify_2fa(*, request: HttpRequest, challenge: str, code: str) -> LoginResult:
    try:
        payload = signing.loads(
            challenge, salt=_CHALLENGE_SALT, max_age=settings.TWO_FACTOR_CHALLENGE_SECONDS
        )
    except signing.SignatureExpired:
        raise ApiError(
            "auth.2fa_challenge_expired", {"field": "challenge"}, status_code=401
        ) from None
    except signing.BadSignature:
        raise ApiError(
            "auth.2fa_challenge_invalid", {"field": "challenge"}, status_code=401
        ) from None
    user = User.objects.filter(pk=payload["uid"], is_active=True).first()
    if user is None:
        raise ApiError("auth.2fa_challenge_invalid", {"field": "challenge"}, status_code=401)
    credentials = {"username": user.get_username()}
    raise_if_locked(request, credentials)
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    if device is None or not _verify_code(device, code):
        # Counted by django-axes like a wrong password: the same lockout applies.
        user_login_failed.send(sender=User, credentials=credentials, request=request)
        raise_if_locked(request, credentials)
        raise ApiError("auth.2fa_invalid_code", {"field": "code"}, status_code=401)
    return _issue_tokens(user, request)


def logout(*, user: User, refresh: str, request: HttpRequest | None = None) -> None:
    """Blacklist the refresh token so it can no longer mint access tokens."""
    try:
        token = RefreshToken(refresh)  # type: ignore[arg-type]
    except TokenError:
        raise ApiError("auth.token_invalid", {"field": "refresh"}, status_code=401) from None
    if str(token.get("user_id")) != str(user.pk):
        raise ApiError("auth.token_invalid", {"field": "refresh"}, status_code=401)
    token.blacklist()
    audit_record(actor=user, action="auth.logout", target=user, request=request)
