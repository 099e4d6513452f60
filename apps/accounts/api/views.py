from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any, ClassVar, cast

import qrcode
import qrcode.image.svg
from django.conf import settings
from drf_spectacular.utils import PolymorphicProxySerializer, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.views import TokenRefreshView

from apps.accounts import services
from apps.accounts.api import serializers as s
from apps.accounts.filters import AuditEntryFilter, UserFilter
from apps.accounts.lockout import raise_if_refresh_locked
from apps.accounts.models import ApiToken, AuditEntry, User
from apps.accounts.roles import Role
from castcore.api.throttling import ClientScopedRateThrottle
from castcore.api.viewsets import CastCoreViewSet, save_audited


def _tokens(result: services.LoginResult) -> Response:
    if result.challenge is not None:
        return Response(
            {
                "result": "auth.2fa_required",
                "challenge": result.challenge,
                "expires_in": settings.TWO_FACTOR_CHALLENGE_SECONDS,
            }
        )
    return Response({"result": "ok", "access": result.access, "refresh": result.refresh})


_LOGIN_RESULT = PolymorphicProxySerializer(
    component_name="LoginResult",
    serializers=[s.TokenPairSerializer, s.TwoFactorRequiredSerializer],
    resource_type_field_name="result",
)


class LoginView(APIView):
    """Username and password → tokens, or a 2FA challenge for enrolled users."""

    permission_classes = [AllowAny]
    public_methods = {"POST"}
    authentication_classes: list[Any] = []
    throttle_classes = [ClientScopedRateThrottle]
    throttle_scope = "login"

    @extend_schema(request=s.LoginSerializer, responses={200: _LOGIN_RESULT}, auth=[])
    def post(self, request: Request) -> Response:
        data = s.LoginSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        result = services.login_password(
            request=request._request,
            **data.validated_data,
        )
        return _tokens(result)


class TwoFactorVerifyView(APIView):
    """Exchange a login challenge and a TOTP code for tokens."""

    permission_classes = [AllowAny]
    public_methods = {"POST"}
    authentication_classes: list[Any] = []
    throttle_classes = [ClientScopedRateThrottle]
    throttle_scope = "login"

    @extend_schema(
        request=s.TwoFactorVerifySerializer, responses={200: s.TokenPairSerializer}, auth=[]
    )
    def post(self, request: Request) -> Response:
        data = s.TwoFactorVerifySerializer(data=request.data)
        data.is_valid(raise_exception=True)
        result = services.login_verify_2fa(request=request._request, **data.validated_data)
        return _tokens(result)


class RefreshView(TokenRefreshView):
    """A refresh token → a new access token (and a rotated refresh token).

    Refused (429 auth.locked_out) while the token's user is locked out from this address.
    """

    permission_classes = (AllowAny,)  # type: ignore[assignment]
    public_methods = {"POST"}
    authentication_classes = ()
    checks_lockout = True  # the schema documents its 429

    @extend_schema(request=s.RefreshSerializer, responses={200: s.AccessSerializer}, auth=[])
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = request.data if isinstance(request.data, dict) else {}
        raise_if_refresh_locked(request._request, data.get("refresh"))
        return super().post(request, *args, **kwargs)


class LogoutView(APIView):
    """Blacklist the given refresh token."""

    write_role = Role.VIEWER

    @extend_schema(request=s.RefreshSerializer, responses={204: None})
    def post(self, request: Request) -> Response:
        data = s.RefreshSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.logout(user=request.user, refresh=data.validated_data["refresh"], request=request)  # type: ignore[arg-type]
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeView(APIView):
    @extend_schema(responses={200: s.MeSerializer})
    def get(self, request: Request) -> Response:
        return Response(s.MeSerializer(request.user).data)


def _qr_svg(uri: str) -> str:
    buffer = io.BytesIO()
    qrcode.make(uri, image_factory=qrcode.image.svg.SvgPathImage).save(buffer)
    return buffer.getvalue().decode()


class TwoFactorEnrollView(APIView):
    """Start TOTP enrolment: a secret and a QR code, confirmed by a first code."""

    write_role = Role.VIEWER

    @extend_schema(request=None, responses={201: s.EnrolmentSerializer})
    def post(self, request: Request) -> Response:
        enrolment = services.totp_enroll(user=request.user, request=request)  # type: ignore[arg-type]
        body = {
            "secret": enrolment.secret_base32,
            "provisioning_uri": enrolment.provisioning_uri,
            "qr_svg": _qr_svg(enrolment.provisioning_uri),
        }
        return Response(body, status=status.HTTP_201_CREATED)


class _TwoFactorCodeView(APIView):
    """A signed-in user acts on their own TOTP device with a current code."""

    write_role = Role.VIEWER
    action_service: ClassVar[Callable[..., Any]]

    @extend_schema(request=s.TwoFactorCodeSerializer, responses={200: s.MeSerializer})
    def post(self, request: Request) -> Response:
        data = s.TwoFactorCodeSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        type(self).action_service(
            user=request.user, code=data.validated_data["code"], request=request
        )
        return Response(s.MeSerializer(request.user).data)


class TwoFactorConfirmView(_TwoFactorCodeView):
    """Confirm enrolment with the first code from the authenticator app."""

    action_service = staticmethod(services.totp_confirm)


class TwoFactorDisableView(_TwoFactorCodeView):
    """Remove two-factor authentication (needs a current code)."""

    action_service = staticmethod(services.totp_disable)


class RolesView(APIView):
    @extend_schema(responses={200: s.RoleSerializer(many=True)})
    def get(self, request: Request) -> Response:
        return Response(s.RoleSerializer.all_roles())


class UserViewSet(CastCoreViewSet):
    """Users, managed by Admins."""

    queryset = User.objects.order_by("id")
    serializer_class = s.UserSerializer
    filterset_class = UserFilter
    ordering_fields = ["id", "username", "date_joined", "last_login", "role"]
    read_role = Role.ADMIN
    write_role = Role.ADMIN

    def perform_create(self, serializer: s.UserSerializer) -> None:  # type: ignore[override]
        serializer.instance = services.user_create(
            actor=self.request.user, request=self.request, **serializer.validated_data
        )

    def perform_update(self, serializer: s.UserSerializer) -> None:  # type: ignore[override]
        serializer.instance = services.user_update(
            actor=self.request.user,
            user=cast(User, serializer.instance),
            request=self.request,
            **serializer.validated_data,
        )

    def perform_destroy(self, instance: User) -> None:  # type: ignore[override]
        services.user_delete(actor=self.request.user, user=instance, request=self.request)


class ApiTokenViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """The signed-in user's personal API tokens; DELETE revokes."""

    serializer_class = s.ApiTokenSerializer
    write_role = Role.VIEWER
    ordering_fields = ["created_at", "last_used_at", "name"]

    queryset = ApiToken.objects.all()

    def get_queryset(self) -> Any:
        if getattr(self, "swagger_fake_view", False):  # schema generation has no user
            return ApiToken.objects.none()
        return ApiToken.objects.filter(user=cast(User, self.request.user))

    @extend_schema(responses={201: s.ApiTokenCreatedSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = s.ApiTokenSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        issued = services.api_token_create(
            user=cast(User, request.user), request=request, **data.validated_data
        )
        body = s.ApiTokenSerializer(issued.token).data
        body["token"] = issued.raw
        return Response(body, status=status.HTTP_201_CREATED)

    def perform_destroy(self, instance: ApiToken) -> None:
        services.api_token_revoke(actor=self.request.user, token=instance, request=self.request)


class PreferencesView(APIView):
    """The signed-in user's own preferences."""

    write_role = Role.VIEWER

    @extend_schema(responses={200: s.PreferencesSerializer})
    def get(self, request: Request) -> Response:
        return Response(s.PreferencesSerializer(services.preferences_for(request.user)).data)  # type: ignore[arg-type]

    @extend_schema(request=s.PreferencesSerializer, responses={200: s.PreferencesSerializer})
    def patch(self, request: Request) -> Response:
        preferences = services.preferences_for(request.user)  # type: ignore[arg-type]
        data = s.PreferencesSerializer(preferences, data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        save_audited(data, request=request, action="preferences.update")
        return Response(data.data)


class AuditEntryViewSet(viewsets.ReadOnlyModelViewSet):
    """The audit log, for Admins."""

    queryset = AuditEntry.objects.all()
    serializer_class = s.AuditEntrySerializer
    filterset_class = AuditEntryFilter
    ordering_fields = ["created_at", "action"]
    read_role = Role.ADMIN
