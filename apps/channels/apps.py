from django.apps import AppConfig


class ChannelsAppConfig(AppConfig):
    """24/7 channels, playlists, schedules, playout, EPG and M3U."""

    name = "apps.channels"
    # "channels" is Django Channels' label; ours must differ.
    label = "castcore_channels"
    verbose_name = "24/7 channels"
