"""Files under /media/ (the `url` the assets API returns), with the API's access rules.

Mounted by castcore.urls at MEDIA_URL. Only files a row names are served (an
asset's stored file), never a path taken from the URL as such, so nothing else
under MEDIA_ROOT (thumbnail cache, incoming uploads) is reachable. Who may read:
as GET /api/v1/assets/{id}, a signed-in Viewer or better, whether signed in on
the viewer site (session: <img> and <video> on pages) or by a bearer token.
"""

from __future__ import annotations

from pathlib import Path

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.views.decorators.http import require_safe

from apps.accounts.roles import Role, role_at_least
from apps.media.models import Asset
from castcore.api.authentication import session_or_bearer_user
from castcore.files import send_file


@require_safe
def media_file(request: HttpRequest, name: str) -> HttpResponseBase:
    user = session_or_bearer_user(request)
    if user is None:
        response = HttpResponse("Sign in to see this file.", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="api"'
        return response
    if not role_at_least(user, Role.VIEWER):
        return HttpResponse("Not allowed.", status=403, content_type="text/plain")
    asset = Asset.objects.filter(file=name).only("file", "mime", "sha256").first()
    if asset is None:
        raise Http404("No such file")
    return send_file(
        request,
        Path(asset.file.path),
        content_type=asset.mime,
        # Assets are re-encoded once and never change in place: the hash names the bytes.
        etag=f'"{asset.sha256[:32]}"',
    )
