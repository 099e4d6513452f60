from django.apps import AppConfig


class OwncastConfig(AppConfig):
    """The Owncast-compatible API: Owncast's paths, auth and shapes over live streams and chat."""

    name = "apps.owncast"
    label = "owncast"
    verbose_name = "Owncast API"
