from django.apps import AppConfig


class OwncastConfig(AppConfig):
    """The Owncast-compatible API: Owncast's paths, auth and shapes over live streams and chat."""

    name = "apps.owncast"
    label = "owncast"
    verbose_name = "Owncast API"

    def ready(self) -> None:
        from apps.chat.selectors import register_stream_forbidden_names
        from apps.owncast.selectors import forbidden_names

        # A stream's Owncast forbidden usernames hold on its chat (native sockets too).
        register_stream_forbidden_names(forbidden_names)
        # Django's admin for this app's rows (apps.owncast.admin is Owncast's admin API).
        from apps.owncast import admin_site  # noqa: F401
