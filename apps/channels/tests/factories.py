"""Factories of the scheduler and replays (the channels' own live beside them)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, cast

import factory
from django.utils import timezone

from apps.accounts.roles import Role
from apps.accounts.tests.factories import UserFactory
from apps.channels.replays.models import Replay
from apps.channels.scheduling.models import ActionKind, ScheduledAction
from apps.recordings.models import Recording
from apps.recordings.tests.factories import VideoRecordingFactory


class ReplayFactory(factory.django.DjangoModelFactory[Replay]):
    class Meta:
        model = Replay

    recording = factory.SubFactory(VideoRecordingFactory)
    title = factory.Sequence(lambda n: f"Replay {n}")
    owner = factory.SubFactory(UserFactory, role=Role.OPERATOR)
    published_at = factory.LazyFunction(timezone.now)


class ScheduledActionFactory(factory.django.DjangoModelFactory[ScheduledAction]):
    """A one-off publish of a draft replay in an hour; set next_run_at with starts_at."""

    class Meta:
        model = ScheduledAction

    name = factory.Sequence(lambda n: f"action {n}")
    kind = ActionKind.REPLAY_PUBLISH
    replay = factory.SubFactory(ReplayFactory, published_at=None)
    starts_at = factory.LazyFunction(lambda: timezone.now() + timedelta(hours=1))
    next_run_at = factory.SelfAttribute("starts_at")
    owner = factory.SubFactory(UserFactory, role=Role.OPERATOR)


def a_replay(**kwargs: Any) -> Replay:
    return cast(Replay, ReplayFactory(**kwargs))


def an_action(**kwargs: Any) -> ScheduledAction:
    return cast(ScheduledAction, ScheduledActionFactory(**kwargs))


def a_video(**kwargs: Any) -> Recording:
    return cast(Recording, VideoRecordingFactory(**kwargs))
