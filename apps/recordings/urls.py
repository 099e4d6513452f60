"""Routes of this app outside /api/v1/ (pages, legacy paths), mounted by castcore.urls."""

from django.contrib.auth import views as auth_views
from django.urls import path, re_path

from apps.recordings import views

app_name = "recordings"

urlpatterns = [
    path("api/asciicasts", views.LegacyUploadView.as_view(), name="legacy-upload"),
    path("connect/<str:install_id>", views.connect, name="connect"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(next_page="/explore"), name="logout"),
    path("explore", views.explore, name="explore"),
    re_path(
        r"^r/(?P<key>[A-Za-z0-9_-]{1,32})\.(?P<ext>[a-z0-9]{1,5})$",
        views.recording_file,
        name="file",
    ),
    re_path(
        r"^r/(?P<key>[A-Za-z0-9_-]{1,32})/(?P<name>video\.mp4|poster\.jpg)$",
        views.recording_made_file,
        name="made-file",
    ),
    re_path(r"^r/(?P<key>[A-Za-z0-9_-]{1,32})$", views.recording_page, name="recording"),
    re_path(r"^s/(?P<key>[A-Za-z0-9_-]{1,32})$", views.stream_page, name="stream"),
]
