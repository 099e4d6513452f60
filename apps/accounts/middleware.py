from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from apps.accounts.audit import audit_record, is_audited

_UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def _declares_read_only(request: HttpRequest) -> bool:
    """Views whose POST changes nothing (e.g. a command preview) set `audit_exempt = True`."""
    match = request.resolver_match
    view = (
        getattr(match.func, "cls", None) or getattr(match.func, "view_class", None)
        if match
        else None
    )
    return bool(getattr(view, "audit_exempt", False))


class AuditMiddleware:
    """Records every successful mutating API call that did not record itself.

    Views built on CastCoreViewSet record richer entries (with changed fields);
    this catches the rest — custom actions, compatible endpoints — so that no
    mutating call goes unrecorded.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            request.method in _UNSAFE
            and request.path.startswith("/api/")
            and 200 <= response.status_code < 400
            and not is_audited(request)
            and not _declares_read_only(request)
        ):
            match = request.resolver_match
            name = match.view_name if match and match.view_name else request.path
            target_id = ""
            if match:
                target_id = str(next(iter(match.kwargs.values()), ""))
            audit_record(
                actor=getattr(request, "user", None),
                action=f"{name}.{request.method.lower()}",
                target_id=target_id[:64],
                request=request,
            )
        return response
