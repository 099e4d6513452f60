from __future__ import annotations

from typing import Any, cast

import factory

from apps.accounts.models import User
from apps.accounts.roles import Role

PASSWORD = "correct-horse-battery-9"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda user: f"{user.username}@example.com")
    role = Role.VIEWER

    @factory.post_generation
    def password(self, create: bool, extracted: Any, **kwargs: Any) -> None:
        # factory_boy passes the built User as `self` here.
        user = cast(User, self)
        user.set_password(extracted or PASSWORD)
        if create:
            user.save()
