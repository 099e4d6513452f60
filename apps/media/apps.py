from django.apps import AppConfig


class MediaConfig(AppConfig):
    """Storage sources, mounts, the media library and assets."""

    name = "apps.media"
    verbose_name = "Media"
