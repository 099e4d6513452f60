"""SSE routes of the streams app (preflight progress), mounted under /api/v1/ by castcore.urls."""

from django.urls import path

from apps.streams.api.sse import PreflightEventsView

urlpatterns = [
    path("sse/preflight/<int:report_id>", PreflightEventsView.as_view(), name="sse-preflight"),
]
