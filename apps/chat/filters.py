"""Filters of the chat API's lists."""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework.filters import OrderingFilter

from apps.chat.models import ChatBan, ChatIdentity, ChatMessage, MessageKind
from castcore.api.errors import invalid_choice
from castcore.api.filters import IdFilter

_BOOLEANS = {"true": True, "false": False, "1": True, "0": False}


@extend_schema_field(OpenApiTypes.BOOL)
class StrictBooleanFilter(django_filters.TypedChoiceFilter):
    """A yes/no filter that refuses `?visible=zzz` (validation.invalid_choice).

    django-filter's BooleanFilter reads what it does not know as "no filter": a typo
    listed everything, the opposite of what was asked.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("choices", [(name, name) for name in _BOOLEANS])
        kwargs.setdefault("coerce", lambda value: _BOOLEANS[value])
        kwargs.setdefault("empty_value", None)
        super().__init__(*args, **kwargs)


class StrictOrderingFilter(OrderingFilter):
    """OrderingFilter that refuses an unknown field (`?ordering=bogus`) instead of ignoring it."""

    def get_ordering(self, request: Any, queryset: Any, view: Any) -> Any:
        params = request.query_params.get(self.ordering_param)
        if params:
            fields = [param.strip() for param in params.split(",")]
            allowed = [
                name for name, _ in self.get_valid_fields(queryset, view, {"request": request})
            ]
            if any(field.lstrip("-") not in allowed for field in fields):
                raise invalid_choice(self.ordering_param, sorted(allowed))
        return super().get_ordering(request, queryset, view)


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
