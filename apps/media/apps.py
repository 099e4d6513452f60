from django.apps import AppConfig


class MediaConfig(AppConfig):
    """Storage sources, mounts, the media library and assets."""

    name = "apps.media"
    verbose_name = "Media"

    def ready(self) -> None:
        from apps.media import conf
        from castcore import managed

        # Files the library serves and checks: no stream job output may overwrite them.
        managed.register("assets", lambda: [conf.asset_root()])
        managed.register("thumbnails", lambda: [conf.thumbnail_root()])
