from django.apps import AppConfig


class StreamsConfig(AppConfig):
    """FFmpeg profiles, stream jobs and their runs."""

    name = "apps.streams"
    verbose_name = "Streams"

    def ready(self) -> None:
        from apps.streams.live.paths import live_root
        from castcore import managed
        from castcore.addresses import address_policy
        from workers.ffmpeg import egress

        # Live streams' HLS: written by their transcodes only, never by a job's output.
        managed.register("live_hls", lambda: [live_root()])

        # The proxy ffmpeg's http(s) inputs go through follows the same settings as the
        # checks on save and start (specs.target_policy), read when each connection is made.
        egress.use_address_policy(address_policy)
