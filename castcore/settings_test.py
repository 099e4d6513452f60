"""Settings for the test suite: the real ones, with faster hashing and no embedded worker.

Tests that need a worker start a real one as a separate process (see
conftest.py), so the web process under test must not run its own.
castcore.settings_isolated keeps parallel test workers apart (their folders, Redis).
"""

from castcore.settings_isolated import *  # noqa: F403
from castcore.settings_isolated import REDIS_URL

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMBEDDED_WORKER = False
if not REDIS_URL:
    # Nothing consumes tasks in unit tests; keep them out of var/broker.
    CELERY_BROKER_URL = "memory://"
    CELERY_BROKER_TRANSPORT = None  # the URL's transport, not the embedded folder one
    CELERY_BROKER_TRANSPORT_OPTIONS = {}
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# The test client speaks plain HTTP; production keeps the redirect.
SECURE_SSL_REDIRECT = False
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # noqa: F405 (collectstatic makes it in production)
# Connections kept between requests would hold the test database open at teardown.
DATABASES["default"]["CONN_MAX_AGE"] = 0  # noqa: F405
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):  # noqa: F405
    # A file, as in the embedded mode, not the in-memory default: there every thread
    # shares one cache, and a read in one thread made another thread's write fail at
    # once ("table is locked"), which a real deployment never sees.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test.sqlite3")}  # noqa: F405
