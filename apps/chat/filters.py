"""Filters of the chat API's lists."""

from __future__ import annotations

import django_filters
from django.db.models import QuerySet

from apps.chat.models import ChatBan, ChatIdentity, ChatMessage, MessageKind
from castcore.api.filters import IdFilter, StrictBooleanFilter


class ChatMessageFilter(django_filters.FilterSet):
    author = IdFilter(field_name="author_id", help_text="A chat identity's id.")
    visible = StrictBooleanFilter()
    kind = django_filters.ChoiceFilter(choices=MessageKind.choices)
    session = IdFilter(field_name="session_id")
    since = IdFilter(field_name="id", lookup_expr="gt", help_text="Messages after this id.")

    class Meta:
        model = ChatMessage
        fields = ["author", "visible", "kind", "session", "since"]


class ChatIdentityFilter(django_filters.FilterSet):
    # On the list's annotation (views.ChatIdentitiesView): a ban or timeout in force.
    banned = StrictBooleanFilter(help_text="A ban or timeout is in force now.")
    connected = StrictBooleanFilter(help_text="Has a socket on the stream now.")

    class Meta:
        model = ChatIdentity
        fields = ["banned", "connected"]


class ChatBanFilter(django_filters.FilterSet):
    active = StrictBooleanFilter(method="filter_active", help_text="In force now.")
    identity = IdFilter(field_name="identity_id")

    class Meta:
        model = ChatBan
        fields = ["active", "identity", "kind"]

    def filter_active(
        self, queryset: QuerySet[ChatBan], name: str, value: bool | None
    ) -> QuerySet[ChatBan]:
        if value is None:
            return queryset
        return (
            queryset.filter(ChatBan.active_q()) if value else queryset.exclude(ChatBan.active_q())
        )
