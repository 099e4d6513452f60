from django.apps import AppConfig


class StreamsConfig(AppConfig):
    """FFmpeg profiles, stream jobs and their runs."""

    name = "apps.streams"
    verbose_name = "Streams"
