"""The base of manage.py commands that change things: their writes are audited as `cli`."""

from __future__ import annotations

import getpass
import os
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.accounts.audit import CommandActor, acting_from_command
from apps.accounts.models import User


def unix_user_name() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # a uid with no passwd entry (containers)
        return f"uid {os.getuid()}"


class AuditedCommand(BaseCommand):
    """Runs `handle` as the account named by `--as`, else as the Unix user.

    Every service the command calls audits with source `cli`: with the account
    as actor when `--as` names one, with `unix:<name>` as the actor's name otherwise.
    """

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        parser.add_argument(
            "--as",
            dest="acting_as",
            metavar="USERNAME",
            help="the CastCore account this action is done as (audit log); default: the Unix user",
        )
        return parser

    def execute(self, *args: Any, **options: Any) -> Any:
        with acting_from_command(self._actor(options.get("acting_as"))):
            return super().execute(*args, **options)

    def _actor(self, username: str | None) -> CommandActor:
        if not username:
            return CommandActor(user=None, name=f"unix:{unix_user_name()}"[:150])
        user = User.objects.filter(username=username, is_active=True).first()
        if user is None:
            raise CommandError(f"--as: no active account named {username!r}")
        return CommandActor(user=user, name=user.get_username())
