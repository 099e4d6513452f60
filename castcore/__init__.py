"""CastCore: a self-hosted control plane for live video."""

# Before anything logs: every log record of this process (web, worker, beat,
# manage.py) redacts known secrets, whatever configures logging afterwards.
from castcore.secrets import install_log_redaction

install_log_redaction()

# Load the Celery app with Django, so that every @shared_task dispatched from a
# web process or manage.py goes through CastCore's broker, not Celery's default.
from castcore.celery import app as celery_app  # noqa: E402

__all__ = ["celery_app"]
