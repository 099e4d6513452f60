"""Platform accounts, the catalogue, OAuth linking and per-job metadata templates."""

from __future__ import annotations

import urllib.parse
from dataclasses import asdict
from typing import Any, ClassVar

from django.contrib import messages
from django.db import transaction
from django.db.models import ProtectedError
from django.http import HttpResponseBase, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.audit import audit_record
from apps.accounts.roles import Role, role_at_least
from apps.integrations import conf
from apps.integrations.platforms import linking, oauth, services
from apps.integrations.platforms.api import serializers as s
from apps.integrations.platforms.catalogue import CATALOGUE, platform_get
from apps.integrations.platforms.metadata import (
    Templates,
    check_templates,
    metadata_resolve,
    templates_of,
)
from apps.integrations.platforms.models import PlatformAccount, PlatformMetadata
from apps.streams.selectors import jobs_visible_to
from castcore.api.errors import ApiError, Conflict
from castcore.api.filters import parse_id
from castcore.api.viewsets import CastCoreViewSet


class PlatformAccountViewSet(CastCoreViewSet):
    """Platform accounts. POST makes a stream key account; OAuth ones come from oauth/start.
    Operators read them (to pick one for an output); Admins manage them."""

    queryset = PlatformAccount.objects.all()
    serializer_class = s.PlatformAccountSerializer
    ordering_fields = ["name", "platform", "created_at"]
    filterset_fields = ["platform", "kind", "status"]
    read_role = Role.OPERATOR
    write_role = Role.ADMIN
    audit_area = "platform_account"
    error_statuses: ClassVar[dict[str, str]] = {}

    def perform_create(self, serializer: Any) -> None:
        serializer.save(created_by=self.request.user)
        audit_record(
            actor=self.request.user,
            action="platform_account.create",
            target=serializer.instance,
            request=self.request,
        )

    def perform_destroy(self, instance: Any) -> None:
        try:
            super().perform_destroy(instance)
        except ProtectedError:
            raise Conflict("platform.account_in_use", {"account": instance.pk}) from None

    @extend_schema(responses={200: s.CatalogueEntrySerializer(many=True)})
    @action(detail=False, methods=["get"], pagination_class=None, filter_backends=[])
    def catalogue(self, request: Request) -> Response:
        """Every platform CastCore knows: ingest servers, rules, whether it links by OAuth."""
        return Response(
            [
                {
                    "type": p.type.value,
                    "name": p.name,
                    "oauth": p.oauth,
                    "ingest_servers": [asdict(i) for i in p.ingest_servers],
                    "rules": asdict(p.rule) if p.rule else None,
                }
                for p in CATALOGUE
            ]
        )


class PlatformAccountActionViewSet(viewsets.GenericViewSet):
    """Checks and unlinking of one platform account. Admins only."""

    queryset = PlatformAccount.objects.all()
    serializer_class = s.PlatformAccountSerializer
    read_role = Role.ADMIN
    write_role = Role.ADMIN
    error_statuses: ClassVar[dict[str, str]] = {}

    @extend_schema(request=None, responses={200: s.PlatformTestSerializer})
    @action(detail=True, methods=["post"])
    def test(self, request: Request, pk: str | None = None) -> Response:
        """Check the credentials against the platform; `code` says what is wrong."""
        code = services.platform_account_test(account=self.get_object())
        return Response({"ok": code.startswith("platform.ok"), "code": code})

    @extend_schema(request=None, responses={200: s.PlatformAccountSerializer})
    @action(detail=True, methods=["post"])
    def revoke(self, request: Request, pk: str | None = None) -> Response:
        """Unlink: revoke the tokens at the platform and forget them. Re-link with
        oauth/start?account=<id>."""
        account = oauth.account_revoke(
            actor=request.user, account=self.get_object(), request=request
        )
        return Response(s.PlatformAccountSerializer(account).data)


def _account_param(value: Any) -> PlatformAccount | None:
    if value in (None, ""):
        return None
    account_id = parse_id(str(value))
    if account_id is None:
        raise ApiError("validation.invalid", {"field": "account"})
    return get_object_or_404(PlatformAccount, pk=account_id)


class OAuthStartView(APIView):
    """Link an account (or re-link `account`). GET sends this client to the platform (302);
    POST answers a one-time link for a browser, which then does the same."""

    read_role = Role.ADMIN
    write_role = Role.ADMIN
    error_statuses: ClassVar[dict[str, str]] = {}

    @extend_schema(
        parameters=[
            OpenApiParameter("name", str, description="name of the new account"),
            OpenApiParameter("account", int, description="re-link this account"),
        ],
        responses={302: None},
    )
    def get(self, request: Request, platform: str) -> HttpResponseRedirect:
        return linking.start_redirect(
            request,
            user=request.user,
            platform=platform,
            name=request.query_params.get("name", ""),
            account=_account_param(request.query_params.get("account")),
        )

    @extend_schema(request=s.OAuthStartSerializer, responses={200: s.OAuthLinkSerializer})
    def post(self, request: Request, platform: str) -> Response:
        """A link to open in a browser (once, within `expires_in` seconds): it sends that
        browser to the platform, and the platform back to the account's admin page."""
        body = s.OAuthStartSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        account = body.validated_data.get("account")
        if account is not None and account.platform != platform:
            raise ApiError("platform.account_platform_mismatch", {"platform": platform})
        ticket = oauth.oauth_ticket_make(user=request.user, platform=platform)
        query = {"ticket": ticket, "as": request.user.pk, "name": body.validated_data["name"]}
        if account is not None:
            query["account"] = account.pk
        path = f"/api/v1/platforms/{platform}/oauth/begin?{urllib.parse.urlencode(query)}"
        return Response(
            {
                "url": request.build_absolute_uri(path),
                "expires_in": conf.PLATFORM_OAUTH_TICKET_SECONDS,
            }
        )


class OAuthBeginView(APIView):
    """The link from POST oauth/start, opened in a browser: the ticket stands for the Admin
    who asked for it (once, briefly); then as GET oauth/start, coming back to a page."""

    authentication_classes = []
    permission_classes = [AllowAny]
    public_methods: ClassVar[set[str]] = {"GET"}
    error_statuses: ClassVar[dict[str, str]] = {
        "401": "The ticket is invalid, expired or used (platform.oauth_ticket_invalid)",
        "403": "Its Admin is an Admin no more (permission.denied)",
    }

    @extend_schema(
        parameters=[
            OpenApiParameter("ticket", str, required=True),
            OpenApiParameter("as", int, required=True, description="the Admin it was made for"),
            OpenApiParameter("name", str),
            OpenApiParameter("account", int),
        ],
        responses={302: None},
    )
    def get(self, request: Request, platform: str) -> HttpResponseRedirect:
        user = oauth.oauth_ticket_take(
            raw=request.query_params.get("ticket", ""),
            platform=platform,
            user_id=parse_id(request.query_params.get("as", "")) or 0,
        )
        if not role_at_least(user, Role.ADMIN):
            raise ApiError("permission.denied", {}, status_code=403)
        return linking.start_redirect(
            request,
            user=user,
            platform=platform,
            name=request.query_params.get("name", ""),
            account=_account_param(request.query_params.get("account")),
            return_to=linking.RETURN_TO_ADMIN,
        )


class OAuthCallbackView(APIView):
    """Where the platform sends the browser back. Authenticated by the state and the
    browser's binding cookie (a provider redirect carries no bearer header). A flow started
    from a page ends on the account's admin page with the result; the API's, as JSON."""

    authentication_classes = []
    permission_classes = [AllowAny]
    public_methods: ClassVar[set[str]] = {"GET"}
    error_statuses: ClassVar[dict[str, str]] = {
        "409": "Re-linking an account with another channel's consent "
        "(platform.relink_other_channel): the account is unchanged"
    }

    @extend_schema(
        parameters=[
            OpenApiParameter("state", str),
            OpenApiParameter("code", str),
            OpenApiParameter("error", str),
        ],
        responses={200: s.PlatformAccountSerializer, 302: None},
    )
    def get(self, request: Request, platform: str) -> HttpResponseBase:
        state = request.query_params.get("state", "")
        return_to = oauth.oauth_return_to(state)
        response: HttpResponseBase
        try:
            account = oauth.oauth_callback(
                platform=platform,
                state=state,
                code=request.query_params.get("code", ""),
                error=request.query_params.get("error", ""),
                binding=request.COOKIES.get(linking.BINDING_COOKIE, ""),
            )
        except ApiError as exc:
            if return_to != linking.RETURN_TO_ADMIN:
                raise
            messages.error(request._request, f"The account was not linked: {exc.code}")
            response = HttpResponseRedirect(linking.accounts_page())
        else:
            if return_to == linking.RETURN_TO_ADMIN:
                messages.success(
                    request._request,
                    f"Linked {account.get_platform_display()} account "
                    f"“{account.external_name or account.name}”.",
                )
                response = HttpResponseRedirect(linking.account_page(account))
            else:
                response = Response(s.PlatformAccountSerializer(account).data)
        response.delete_cookie(linking.BINDING_COOKIE, path=linking.COOKIE_PATH)
        return response


def _platform_or_404(platform: str) -> str:
    if platform_get(platform) is None:
        raise ApiError("platform.unknown", {"platform": platform}, status_code=404)
    return platform


class JobMetadataView(APIView):
    """A job's metadata templates for one platform (title, description, tags, category,
    privacy), sent to the platform when a run starts."""

    read_role = Role.VIEWER
    write_role = Role.OPERATOR
    error_statuses: ClassVar[dict[str, str]] = {}

    def _job(self, pk: int) -> Any:
        return get_object_or_404(jobs_visible_to(self.request.user), pk=pk)

    @extend_schema(responses={200: s.PlatformMetadataSerializer})
    def get(self, request: Request, pk: int, platform: str) -> Response:
        job = self._job(pk)
        row = PlatformMetadata.objects.filter(job=job, platform=_platform_or_404(platform)).first()
        if row is None:
            row = PlatformMetadata(job=job, platform=platform)
        return Response(s.PlatformMetadataSerializer(row).data)

    @extend_schema(
        request=s.PlatformMetadataSerializer, responses={200: s.PlatformMetadataSerializer}
    )
    def put(self, request: Request, pk: int, platform: str) -> Response:
        job = self._job(pk)
        _platform_or_404(platform)
        data = s.PlatformMetadataSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = data.validated_data
        check_templates(
            Templates(
                fields.get("title", ""),
                fields.get("description", ""),
                tuple(fields.get("tags", [])),
                fields.get("category", ""),
                fields.get("privacy", ""),
            )
        )
        with transaction.atomic():
            row, _ = PlatformMetadata.objects.update_or_create(
                job=job, platform=platform, defaults=dict(fields)
            )
            audit_record(
                actor=request.user, action="platform_metadata.update", target=row, request=request
            )
        return Response(s.PlatformMetadataSerializer(row).data)


class MetadataResolveView(APIView):
    """Render a job's metadata templates (or the ones sent) as the platform would get them."""

    read_role = Role.VIEWER
    write_role = Role.VIEWER  # renders only; writes nothing
    error_statuses: ClassVar[dict[str, str]] = {}

    @extend_schema(
        request=s.MetadataResolveSerializer, responses={200: s.ResolvedMetadataSerializer}
    )
    def post(self, request: Request) -> Response:
        data = s.MetadataResolveSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        job = get_object_or_404(jobs_visible_to(request.user), pk=fields.pop("job"))
        platform = fields.pop("platform")
        stored = templates_of(PlatformMetadata.objects.filter(job=job, platform=platform).first())
        templates = Templates(
            fields.get("title", stored.title),
            fields.get("description", stored.description),
            tuple(fields.get("tags", stored.tags)),
            fields.get("category", stored.category),
            fields.get("privacy", stored.privacy),
        )
        check_templates(templates)
        return Response(metadata_resolve(job=job, templates=templates))
