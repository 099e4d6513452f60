"""CastCore: a self-hosted control plane for live video."""

# Load the Celery app with Django, so that every @shared_task dispatched from a
# web process or manage.py goes through CastCore's broker, not Celery's default.
from castcore.celery import app as celery_app

__all__ = ["celery_app"]
