from django.apps import AppConfig


class StreamsConfig(AppConfig):
    """FFmpeg profiles, stream jobs and their runs."""

    name = "apps.streams"
    verbose_name = "Streams"

    def ready(self) -> None:
        from apps.media import conf as media_conf
        from workers.ffmpeg import egress

        # The proxy ffmpeg's http(s) inputs go through follows the same setting as the
        # checks on save and start (specs.target_policy), read when each connection is made.
        egress.allow_link_local_when(lambda: media_conf.ALLOW_LINK_LOCAL_TARGETS)
