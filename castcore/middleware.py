"""Requests no route can mean are refused before any view reads them."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse

from castcore.api.errors import envelope


def _has_nul(request: HttpRequest) -> bool:
    if "\x00" in request.path:
        return True
    return any("\x00" in key or "\x00" in value for key, value in request.GET.items())


class RefuseNulMiddleware:
    """A NUL character in the path or the query string is a 400, never a database error.

    No URL of CastCore's holds one, and PostgreSQL refuses text with NUL in a query
    (psycopg raises, a 500): `/media/%00`, `/api/v1/recordings/%00` did. One rule
    for every route, here, rather than a check in each lookup.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not _has_nul(request):
            return self.get_response(request)
        if request.path.startswith("/api/"):
            return JsonResponse(envelope("request.malformed", {"reason": "nul"}), status=400)
        return HttpResponseBadRequest("A NUL character has no place in a URL.")
