"""The Owncast surface's rows in Django's admin, shown read-only.

They are written through the Owncast admin API (its setters clean HTML and CSS with nh3,
and keep secrets such as S3's encrypted in `extra`), so the admin shows them and leaves
the writing to that one path. `apps.owncast.admin` is the Owncast admin API itself, so
Django's autodiscovery does not find this module: the app config imports it.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from apps.owncast.models import ClientUserAgent, StreamOwncastSettings, TokenLink
from castcore.admin_site import ReadOnlyModelAdmin
from castcore.api.filters import MAX_ID


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

    def get_object(
        self, request: HttpRequest, object_id: str, from_field: str | None = None
    ) -> Any:
        # The key is the chat connection's (a one-to-one), which Django does not bound
        # like an id field: past a BIGINT it was an OverflowError, a 500.
        if not object_id.isdecimal() or len(object_id) > 19 or int(object_id) > MAX_ID:
            return None
        return super().get_object(request, object_id, from_field)
