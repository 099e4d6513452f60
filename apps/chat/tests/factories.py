from __future__ import annotations

import factory

from apps.chat.models import ChatIdentity
from apps.streams.models import LiveStream
from apps.streams.tests.factories import StreamJobFactory


class LiveStreamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = LiveStream

    name = factory.Sequence(lambda n: f"live {n}")
    slug = factory.Sequence(lambda n: f"live-{n}")
    job = factory.SubFactory(StreamJobFactory)


class ChatIdentityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ChatIdentity

    display_name = factory.Sequence(lambda n: f"guest {n}")
