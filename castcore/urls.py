from typing import Any

from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path

from apps.media import views as media_views
from apps.owncast import urls as owncast_urls
from castcore import pages
from castcore.api.docs_views import ApiIndexView, SchemaView, SwaggerView
from castcore.api.errors import api_not_found

api_v1: list[Any] = [
    path("", include("apps.accounts.api.urls")),
    path("", include("apps.system.api.urls")),
    path("", include("apps.streams.api.urls")),
    path("", include("apps.streams.api.sse_urls")),
    path("", include("apps.streams.live.api.urls")),
    path("", include("apps.system.api.metrics_urls")),
    path("", include("apps.media.api.urls")),
    path("", include("apps.recordings.api.urls")),
    path("", include("apps.channels.api.urls")),
    path("", include("apps.chat.api.urls")),
    path("", include("apps.integrations.api.urls")),
    path("", ApiIndexView.as_view(), name="api-index"),
    # With and without the trailing slash, both served (the README names the first).
    path("schema/", SchemaView.as_view(), name="schema"),
    path("schema", SchemaView.as_view()),
    path("docs/", SwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("docs", SwaggerView.as_view(url_name="schema")),
]

urlpatterns = [
    path("", pages.home, name="home"),
    # nginx-rtmp's publish callbacks (shared secret; not an API for clients).
    path("", include("apps.streams.live.callback_urls")),
    path("favicon.ico", pages.favicon, name="favicon"),
    path("api/v1/", include(api_v1)),
    # Pages and legacy paths (asciinema 2.x's /api/asciicasts, /connect/<id>, …).
    path("", include("apps.recordings.urls")),
    # Live streams: watch pages and HLS (apps/streams/live/views.py).
    path("live/", include("apps.streams.live.urls")),
    # Channels' viewer pages, /epg.xml, /playlist.m3u and the HDHomeRun tuner surface.
    path("", include("apps.channels.urls")),
    # A channel's HLS (index.m3u8, segments), below its page.
    path("", include("apps.channels.play.urls")),
    # Owncast's API: every live stream's base /owncast/<slug>/, and at the root Owncast's
    # exact paths for the default stream (apps/owncast/urls.py), before the catch-all.
    path("", include(owncast_urls.stream_patterns)),
    path("", include(owncast_urls.root_patterns)),
    # Unknown API paths answer 404 in the error envelope, in DEBUG too.
    re_path(r"^api/", api_not_found),
    path("admin/", admin.site.urls),
    # Uploaded files (assets' `url`), with the API's access rules (apps/media/views.py).
    path(f"{settings.MEDIA_URL.strip('/')}/<path:name>", media_views.media_file, name="media-file"),
]

handler400 = "castcore.api.errors.handler400"
handler403 = "castcore.api.errors.handler403"
handler404 = "castcore.api.errors.handler404"
handler500 = "castcore.api.errors.handler500"
