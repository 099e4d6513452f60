"""The Owncast surface's rows in Django's admin, shown read-only.

They are written through the Owncast admin API (its setters clean HTML and CSS with nh3,
and keep secrets such as S3's encrypted in `extra`), so the admin shows them and leaves
the writing to that one path. `apps.owncast.admin` is the Owncast admin API itself, so
Django's autodiscovery does not find this module: the app config imports it.
"""

from __future__ import annotations

from django.contrib import admin

from apps.owncast.models import ClientUserAgent, StreamOwncastSettings, TokenLink
from castcore.admin_site import ReadOnlyModelAdmin


@admin.register(TokenLink)
class TokenLinkAdmin(ReadOnlyModelAdmin):
    list_display = ["token", "bound", "stream"]
    list_filter = ["bound"]


@admin.register(StreamOwncastSettings)
class StreamOwncastSettingsAdmin(ReadOnlyModelAdmin):
    list_display = ["stream", "chat_disabled", "chat_join_messages", "updated_at"]
    # `extra` holds values reported back to the key holder, S3's secret among them.
    exclude = ["extra"]


@admin.register(ClientUserAgent)
class ClientUserAgentAdmin(ReadOnlyModelAdmin):
    list_display = ["connection", "user_agent"]
