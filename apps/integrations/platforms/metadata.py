"""Platform metadata templates: rendered in jinja2's immutable sandbox.

Why jinja2's ImmutableSandboxedEnvironment and not Django's template engine: the
sandbox is the point. It refuses underscore attributes and unsafe callables at render
time (SecurityError), and the immutable variant refuses mutating methods too; Django's
engine has no such guard and would happily call any zero-argument method of whatever
the context holds. The context here is plain strings and dicts in any case (no model
instances), so there is nothing behind a variable to reach; the sandbox keeps it that way
if someone adds one. Rendered values are cut to the platforms' field sizes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.utils import timezone
from jinja2 import TemplateError, nodes
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

from apps.integrations.platforms.models import PlatformMetadata
from castcore.api.errors import ApiError

MAX_REPEAT = 10_000


class _Environment(ImmutableSandboxedEnvironment):
    """The sandbox, with `*` and `**` bounded: `'x' * 10**9` would build a gigabyte."""

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "**":
            raise SecurityError("power is not allowed in metadata templates")
        if isinstance(left, (str, list, tuple)) or isinstance(right, (str, list, tuple)):
            count = right if isinstance(left, (str, list, tuple)) else left
            size = len(left) if isinstance(left, (str, list, tuple)) else len(right)
            if isinstance(count, int) and count * size > MAX_REPEAT:
                raise SecurityError("repetition too large")
        return super().call_binop(context, operator, left, right)


_ENV = _Environment(autoescape=False)
_ENV.globals.clear()  # no range/lipsum/cycler/joiner/namespace: variables only

# What a template may be made of: text, variables, conditions and a few filters that
# cannot grow their input. No loops, macros, calls or assignments: a loop nested three
# deep over a long string runs for hours, and a call such as `'x'.center(10**9)` builds
# a gigabyte; the sandbox allows both. Checked when a template is stored and rendered.
_ALLOWED_NODES = (
    nodes.Template, nodes.Output, nodes.TemplateData, nodes.Name, nodes.Getattr,
    nodes.Getitem, nodes.Const, nodes.Filter, nodes.Concat, nodes.CondExpr, nodes.If,
    nodes.Compare, nodes.Operand, nodes.And, nodes.Or, nodes.Not, nodes.Test, nodes.Add,
    nodes.Mul, nodes.Tuple, nodes.List, nodes.Slice, nodes.Keyword,
)  # fmt: skip
_ALLOWED_FILTERS = frozenset({
    "default", "d", "upper", "lower", "title", "capitalize", "trim", "truncate",
    "striptags", "string", "length", "int", "first", "last",
})  # fmt: skip


def _check_shape(field: str, tree: nodes.Template) -> None:
    for node in tree.find_all(nodes.Node):
        allowed = isinstance(node, _ALLOWED_NODES) and (
            not isinstance(node, nodes.Filter) or node.name in _ALLOWED_FILTERS
        )
        if not allowed:
            raise ApiError(
                "metadata.template_invalid",
                {"field": field, "reason": "not_allowed", "construct": type(node).__name__},
            )


LIMITS = {"title": 100, "description": 5000, "category": 200, "privacy": 10, "tag": 100}
PRIVACY = ("", "public", "unlisted", "private")


@dataclass(frozen=True)
class Templates:
    title: str = ""
    description: str = ""
    tags: tuple[str, ...] = ()
    category: str = ""
    privacy: str = ""


def templates_of(row: PlatformMetadata | None) -> Templates:
    if row is None:
        return Templates()
    return Templates(row.title, row.description, tuple(row.tags), row.category, row.privacy)


def _local(moment: datetime) -> str:
    return timezone.localtime(moment).strftime("%H:%M")


def _stream_of(job: Any) -> dict[str, str]:
    """A live stream's restream is about that live stream; any other job is its own stream."""
    from apps.streams.models import LiveStream

    live = LiveStream.objects.filter(job_id=job.pk).first() if job.pk else None
    if live is not None:
        return {"name": live.name, "title": live.display_title, "slug": live.slug}
    return {"name": job.name, "title": job.name, "slug": ""}


def _channel_of(job: Any) -> tuple[dict[str, str] | None, dict[str, str] | None]:
    """The channel a job plays (its player's job), and what airs on it now."""
    from apps.channels.models import ChannelPlayer
    from apps.channels.selectors import playout_at

    player = (
        ChannelPlayer.objects.filter(job_id=job.pk).select_related("channel").first()
        if job.pk
        else None
    )
    if player is None:
        return None, None
    channel = player.channel
    shown = {"name": channel.name, "number": str(channel.number), "slug": channel.slug}
    playing = playout_at(channel.pk)
    if playing is None:
        return shown, None
    row = playing.row
    return shown, {"title": row.title, "start": _local(row.start), "end": _local(row.end)}


def variables_for(job: Any) -> dict[str, Any]:
    """What a template can name (README "Platforms" lists them): plain values only, never
    model instances. Times are in the instance's time zone (settings.TIME_ZONE)."""
    now = timezone.localtime()
    channel, programme = _channel_of(job)
    return {
        "job": {"name": job.name, "id": job.pk},
        "stream": _stream_of(job),
        "date": now.strftime("%Y-%m-%d"),
        "time": now.strftime("%H:%M"),
        "datetime": now.strftime("%Y-%m-%d %H:%M"),
        "weekday": now.strftime("%A"),
        "timezone": str(now.tzinfo),
        "channel": channel,
        "programme": programme,
    }


def _render(field: str, source: str, context: dict[str, Any], limit: int) -> str:
    try:
        _check_shape(field, _ENV.parse(source))
        out = _ENV.from_string(source).render(context)
    except TemplateError as exc:  # SecurityError, syntax errors, undefined calls
        raise ApiError(
            "metadata.template_invalid", {"field": field, "reason": type(exc).__name__}
        ) from None
    except (ArithmeticError, ValueError, TypeError, MemoryError, RecursionError) as exc:
        raise ApiError(
            "metadata.template_invalid", {"field": field, "reason": type(exc).__name__}
        ) from None
    return out.strip()[:limit]


def check_templates(templates: Templates) -> None:
    """Refuse a template that does not parse (before it is stored)."""
    for field, source in (
        ("title", templates.title),
        ("description", templates.description),
        ("category", templates.category),
        *(("tags", t) for t in templates.tags),
    ):
        try:
            tree = _ENV.parse(source)
        except TemplateError:
            raise ApiError(
                "metadata.template_invalid", {"field": field, "reason": "syntax"}
            ) from None
        _check_shape(field, tree)
    if templates.privacy not in PRIVACY:
        raise ApiError("metadata.privacy_invalid", {"allowed": list(PRIVACY)})


def metadata_resolve(*, job: Any, templates: Templates) -> dict[str, Any]:
    """The metadata as the platform gets it: every template rendered with `job`'s variables."""
    context = variables_for(job)
    tags = [_render("tags", t, context, LIMITS["tag"]) for t in templates.tags]
    return {
        "title": _render("title", templates.title, context, LIMITS["title"]),
        "description": _render(
            "description", templates.description, context, LIMITS["description"]
        ),
        "tags": [t for t in tags if t],
        "category": _render("category", templates.category, context, LIMITS["category"]),
        "privacy": templates.privacy,
    }
