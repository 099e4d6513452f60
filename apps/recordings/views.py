"""Pages (recording, stream, explore, connect, login) and asciinema 2.x's legacy upload path."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django import forms
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_http_methods
from django_otp.plugins.otp_totp.models import TOTPDevice
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts import cli_installs
from apps.recordings import selectors
from apps.recordings.api import serializers as s
from apps.recordings.api.compat import (
    AsciinemaOnlyMixin,
    absolute_url,
    public_base,
    ws_url,
)
from apps.recordings.api.views import UPLOAD_BODY_LIMIT, create_from_upload
from apps.recordings.files import serve_recording_file, serve_stored_file
from apps.recordings.models import Recording, TerminalStream
from apps.system.models import GlobalSettings
from castcore.secrets import remember
from castcore.tickets import check_ticket, make_ticket

VIEWER_TICKET_SALT = "castcore.recordings.viewer-ticket"
VIEWER_TICKET_MAX_AGE = 6 * 3600


# --- asciinema 2.x ------------------------------------------------------------------


class LegacyUploadView(AsciinemaOnlyMixin, APIView):
    """POST /api/asciicasts (field `asciicast`), as asciinema 2.x uploads."""

    install_id_creates_account = True
    request_body_limit = UPLOAD_BODY_LIMIT

    @extend_schema(
        request={"multipart/form-data": s.RecordingUploadSerializer},
        responses={
            201: s.LegacyUploadResultSerializer,
            413: OpenApiResponse(),
            422: OpenApiResponse(),
        },
    )
    def post(self, request: Request) -> Response:
        recording = create_from_upload(request, "asciicast", "file")
        body = dict(s.AsciinemaRecordingSerializer(recording, context={"request": request}).data)
        message = f"View the recording at:\n\n    {body['url']}\n"
        if request.user.is_temporary:  # type: ignore[union-attr]
            days = GlobalSettings.load().unclaimed_hide_after_days
            message += (
                "\nThis asciinema CLI is not linked to an account on this server yet: run"
                f" `asciinema auth` to link it, or the recording is hidden after {days} days.\n"
            )
        body["message"] = message
        return Response(body, status=201, headers={"Location": body["url"]})


# --- recordings ----------------------------------------------------------------------


def _recording_or_404(request: HttpRequest, key: str) -> Recording:
    recording = selectors.recording_by_key(key, public_ids_only=True)
    if recording is None or not selectors.may_view(recording, request.user):
        raise Http404("No such recording")
    return recording


def _gone(request: HttpRequest) -> HttpResponse:
    return render(request, "recordings/gone.html", status=410)


def recording_page(request: HttpRequest, key: str) -> HttpResponse:
    recording = _recording_or_404(request, key)
    if recording.is_hidden:
        return _gone(request)
    response = render(
        request,
        "recordings/recording.html",
        {
            "recording": recording,
            "file_url": recording.file_path,
            "is_owner": recording.owner_id == request.user.pk,
        },
    )
    if recording.visibility != "public":
        response["X-Robots-Tag"] = "noindex"
    return response


@require_http_methods(["GET", "HEAD"])
def recording_file(request: HttpRequest, key: str, ext: str) -> HttpResponseBase:
    recording = _recording_or_404(request, key)
    if recording.is_hidden:
        return HttpResponse(status=410)
    if not recording.file or ext != recording.file_extension:
        raise Http404("No such file")
    return serve_recording_file(request, recording)


# What a page's <video> plays: the copy made for browsers, and its poster frame.
_MADE_FILES = {"video.mp4": ("playable_file", "video/mp4"), "poster.jpg": ("poster", "image/jpeg")}


@require_http_methods(["GET", "HEAD"])
def recording_made_file(request: HttpRequest, key: str, name: str) -> HttpResponseBase:
    recording = _recording_or_404(request, key)
    if recording.is_hidden:
        return HttpResponse(status=410)
    field, content_type = _MADE_FILES[name]
    stored = getattr(recording, field)
    if not stored:
        raise Http404("No such file")
    return serve_stored_file(
        request,
        recording,
        Path(stored.path),
        content_type=content_type,
        filename=f"{recording.pk}-{name}",
    )


def explore(request: HttpRequest) -> HttpResponse:
    page = Paginator(selectors.explore_recordings().select_related("owner"), 24).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "recordings/explore.html",
        {"page": page, "streams": selectors.explore_streams()[:20]},
    )


# --- live streams ------------------------------------------------------------------


def viewer_ticket(stream: TerminalStream) -> str:
    """A signed pass for the viewer socket of a private stream (browsers can't send headers)."""
    return make_ticket(salt=VIEWER_TICKET_SALT, subject=stream.pk)


def check_viewer_ticket(raw: str, stream_id: int) -> bool:
    return check_ticket(
        raw, salt=VIEWER_TICKET_SALT, subject=stream_id, max_age=VIEWER_TICKET_MAX_AGE
    )


def stream_page(request: HttpRequest, key: str) -> HttpResponse:
    stream = selectors.stream_by_key(key, public_ids_only=True)
    if stream is None or not selectors.may_view(stream, request.user):
        raise Http404("No such stream")
    socket = ws_url(request, f"/ws/s/{stream.url_token}")
    if stream.visibility == "private":
        socket += "?" + urlencode({"ticket": viewer_ticket(stream)})
    return render(request, "recordings/stream.html", {"stream": stream, "ws_url": socket})


# --- linking a CLI (asciinema auth) ---------------------------------------------------------


class LoginForm(AuthenticationForm):
    """Username and password, and the TOTP code for users who enrolled in 2FA."""

    otp_token = forms.CharField(label="Two-factor code", required=False, max_length=8)

    def confirm_login_allowed(self, user: Any) -> None:
        super().confirm_login_allowed(user)
        if getattr(user, "is_temporary", False):
            raise forms.ValidationError("This account cannot sign in.", code="inactive")
        device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
        if device is None:
            return
        code = (self.cleaned_data.get("otp_token") or "").strip()
        if not code.isdigit() or not device.verify_token(code):
            raise forms.ValidationError(
                "Enter the current code from your authenticator app.", code="otp_invalid"
            )
        user.otp_device = device


class LoginView(auth_views.LoginView):
    template_name = "recordings/login.html"
    authentication_form = LoginForm
    redirect_authenticated_user = True


@require_http_methods(["GET", "POST"])
def connect(request: HttpRequest, install_id: str) -> HttpResponse:
    """`asciinema auth` prints this page's URL: a signed-in user links the CLI here."""
    remember(install_id)  # a password in a URL: keep it out of every log line
    if not request.user.is_authenticated:
        return redirect(f"{reverse('recordings:login')}?{urlencode({'next': request.path})}")
    context: dict[str, Any] = {
        "masked_id": "••••" + install_id[-4:],
        "base_url": public_base(request),
    }
    if request.method == "POST":
        try:
            result = cli_installs.cli_install_claim(
                user=request.user,
                raw_install_id=install_id,
                request=request,
            )
        except cli_installs.ClaimError as exc:
            context["error"] = exc.code
            return render(request, "recordings/connect.html", context, status=409)
        context["result"] = result
        context["recordings_url"] = absolute_url(request, reverse("recordings:explore"))
        return render(request, "recordings/connect_done.html", context)
    if not cli_installs.is_plausible_install_id(install_id):
        raise Http404("Not an install ID")
    return render(request, "recordings/connect.html", context)
