"""CastCore settings: one module, driven by environment variables.

Two run modes (ARCHITECTURE.md):
- embedded (no DATABASE_URL / REDIS_URL): SQLite under var/, an in-memory
  channel layer, and a Celery worker inside the web process whose broker is a
  folder under var/ (so `manage.py` commands in another process can still
  hand it work);
- distributed (DATABASE_URL and REDIS_URL): PostgreSQL, Redis as Celery broker
  and channel layer, separate worker and beat processes.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from pathlib import Path
from typing import Any

import dj_database_url
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured

from castcore.env import (
    distributed_mode,
    embedded_worker,
    env_bool,
    env_float,
    env_int,
    env_list,
    env_networks,
    env_str,
    persistent_secret,
    redis_db,
)

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("CASTCORE_VAR_DIR", str(BASE_DIR / "var"))).resolve()

DEBUG = env_bool("DEBUG", default=False)
DATABASE_URL = env_str("DATABASE_URL")
REDIS_URL = env_str("REDIS_URL")
DISTRIBUTED = distributed_mode()
# The in-process worker of the embedded mode; off in distributed mode, where
# `make worker` runs workers as their own processes.
EMBEDDED_WORKER = embedded_worker()
# Its thread pool: each running stream job holds a thread (and, with PostgreSQL, a
# connection) for as long as the job runs.
EMBEDDED_WORKER_CONCURRENCY = 8

if DISTRIBUTED:
    SECRET_KEY = env_str("SECRET_KEY")
    if not SECRET_KEY:
        raise ImproperlyConfigured(
            "SECRET_KEY (or SECRET_KEY_FILE) is required in distributed mode."
        )
else:
    SECRET_KEY = env_str("SECRET_KEY") or persistent_secret(
        VAR_DIR / "secret_key", lambda: secrets.token_urlsafe(50)
    )

# Fernet keys for secrets at rest, newest first: encrypt with the first, decrypt
# with any. Rotation = prepend a new key, run `manage.py rotate_secrets`, then
# drop the old one.
FERNET_KEYS = env_list("CASTCORE_FERNET_KEYS", [])
if not FERNET_KEYS:
    if DISTRIBUTED:
        raise ImproperlyConfigured("CASTCORE_FERNET_KEYS is required in distributed mode.")
    FERNET_KEYS = [
        persistent_secret(VAR_DIR / "fernet_key", lambda: Fernet.generate_key().decode())
    ]

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
# Under /api/ a failed CSRF check answers in the error envelope (castcore/api/errors.py).
CSRF_FAILURE_VIEW = "castcore.api.errors.csrf_failure"

INSTALLED_APPS = [
    "daphne",
    "castcore.admin_apps.CastCoreAdminConfig",
    # Before django.contrib.auth: its createsuperuser and changepassword, which audit
    # what they do, take the place of Django's (the first app with a command wins).
    "apps.accounts",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework_simplejwt.token_blacklist",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "axes",
    "django_celery_beat",
    "channels",
    "apps.system",
    "apps.streams",
    "apps.channels.apps.ChannelsAppConfig",
    "apps.media",
    "apps.recordings",
    "apps.chat",
    "castcore.outbox",
    "apps.integrations",
    "apps.owncast",
]

MIDDLEWARE = [
    "castcore.middleware.RefuseNulMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "apps.accounts.middleware.AuditMiddleware",
    # Last, as django-axes requires, so it sees the outcome of every login.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "castcore.urls"
ASGI_APPLICATION = "castcore.asgi.application"
AUTH_USER_MODEL = "accounts.User"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "castcore.context_processors.site",
            ],
        },
    },
]

if DATABASE_URL:
    # Workers and manage.py keep each thread's connection for a minute.
    _database = dj_database_url.parse(DATABASE_URL, conn_max_age=60, conn_health_checks=True)
    if _database["ENGINE"] == "django.db.backends.postgresql":
        # Django's backend with a health check that needs no query (castcore/db/health.py).
        _database["ENGINE"] = "castcore.db.postgresql"
    if env_bool("CASTCORE_DB_POOL", default=False) and "postgresql" in _database["ENGINE"]:
        # Set by castcore/asgi.py. Django's ASGI handler runs each request's sync code
        # in a thread of its own, and connections belong to threads: kept connections
        # meant a new PostgreSQL connection for every request (several ms), the old one
        # left to the garbage collector. A pool hands them back instead. Each one it
        # hands out is checked, so one the server closed is replaced, not used: by our
        # backend without the pool's query (castcore/db/postgresql/base.py), by the
        # pool itself under any other PostgreSQL backend.
        _database["CONN_MAX_AGE"] = 0
        if _database["ENGINE"] == "castcore.db.postgresql":
            _database["CONN_HEALTH_CHECKS"] = False
        _database.setdefault("OPTIONS", {})["pool"] = {
            "min_size": 2,
            # Requests give theirs back; an embedded worker's threads (a run each, its
            # beat and heartbeat) keep theirs, so they get their own share on top.
            "max_size": env_int("CASTCORE_DB_POOL_SIZE", 20, minimum=2)
            + (EMBEDDED_WORKER_CONCURRENCY + 2 if EMBEDDED_WORKER else 0),
            # A request that finds the pool exhausted fails after this, not a 30 s hang.
            "timeout": 10,
        }
    DATABASES = {"default": _database}
else:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(VAR_DIR / "castcore.sqlite3"),
            # Keep each thread's connection, as workers do with PostgreSQL: opening one
            # (and its PRAGMAs) cost every worker task a millisecond or two.
            "CONN_MAX_AGE": 60,
            "CONN_HEALTH_CHECKS": True,
            "OPTIONS": {
                # WAL lets the web process read while the in-process worker
                # writes; IMMEDIATE makes compare-and-set transitions take the
                # write lock up front instead of failing on upgrade.
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
            },
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

CACHES: dict[str, dict[str, Any]]
if REDIS_URL:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    }
    CHANNEL_LAYERS = {
        "default": {
            # Pub/sub: a group_send is one PUBLISH, and each process receives it once
            # and hands it to its own sockets. The list-based RedisChannelLayer wrote
            # and popped one Redis entry per socket: 200 viewers of a job's log made
            # 200 round trips per line. Live events are best effort either way (what
            # a process misses while cut off from Redis is gone); sockets get the
            # current state from the database when they connect.
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            # Pub/sub channels are server-wide, not per Redis database: the prefix names
            # the database, so two CastCores sharing a Redis server on different databases
            # (or parallel test workers) never get each other's events. kombu prefixes
            # Celery's broadcasts with the database for the same reason.
            "CONFIG": {"hosts": [{"address": REDIS_URL}], "prefix": f"asgi{redis_db(REDIS_URL)}."},
        }
    }
else:
    # The web process's memory, shared by its in-process worker's threads (embedded.py):
    # the guide's programmes the worker renders are what the requests read. Room for
    # each channel's two hours of guide and their index (apps/channels/feeds.py deletes
    # the ones replaced) beside throttles: Django's 300 would drop them past 100 channels.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "OPTIONS": {"MAX_ENTRIES": 5000},
        }
    }
    CHANNEL_LAYERS = {
        "default": {"BACKEND": "castcore.channel_layer.ThreadSafeInMemoryChannelLayer"}
    }

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# The viewer site's sign-in page; after it, `?next=` (checked by Django to stay on
# this host) or the home page. Django's default was /accounts/profile/, a 404.
LOGIN_URL = "recordings:login"
LOGIN_REDIRECT_URL = "home"
AUTHENTICATION_BACKENDS = [
    # First, so a locked-out username/IP never reaches the password check.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

LANGUAGE_CODE = "en-us"
# Languages a user may pick for the interface (error codes are translated client-side).
LANGUAGES = [("en", "English"), ("de", "Deutsch"), ("es", "Español"), ("fr", "Français")]
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
# Front-end packages come from the npm registry at install time (`make install`
# runs `npm ci`); their built bundles are served as static files under vendor/.
STATICFILES_DIRS: list[Any] = [BASE_DIR / "static"]
_NPM_BUNDLES = {
    "asciinema-player": BASE_DIR / "node_modules" / "asciinema-player" / "dist" / "bundle",
    "hls.js": BASE_DIR / "node_modules" / "hls.js" / "dist",
}
STATICFILES_DIRS += [
    (f"vendor/{name}", path) for name, path in _NPM_BUNDLES.items() if path.is_dir()
]
MEDIA_ROOT = Path(env_str("CASTCORE_MEDIA_ROOT", str(VAR_DIR / "media")))
MEDIA_URL = "media/"
# An nginx `internal` location aliasing MEDIA_ROOT (e.g. /_media/): CastCore then checks
# access to /media/… files, thumbnails and recording files and answers with
# X-Accel-Redirect, and nginx sends the bytes (castcore/files.py).
X_ACCEL_REDIRECT_PREFIX = env_str("CASTCORE_X_ACCEL_REDIRECT", "")
if X_ACCEL_REDIRECT_PREFIX and not X_ACCEL_REDIRECT_PREFIX.startswith("/"):
    raise ImproperlyConfigured("CASTCORE_X_ACCEL_REDIRECT must be a path such as /_media/.")
# The same for live streams' HLS segments (apps/streams/live/views.py): an nginx `internal`
# location aliasing VAR_DIR/live (e.g. /_live/); see the README's "Serving live HLS".
LIVE_X_ACCEL_REDIRECT_PREFIX = env_str("CASTCORE_LIVE_X_ACCEL_REDIRECT", "")
if LIVE_X_ACCEL_REDIRECT_PREFIX and not LIVE_X_ACCEL_REDIRECT_PREFIX.startswith("/"):
    raise ImproperlyConfigured("CASTCORE_LIVE_X_ACCEL_REDIRECT must be a path such as /_live/.")
# The name of an S3 storage source (apps.media) that public live streams' HLS is copied
# to for a CDN, by `manage.py mirror_live_hls` (apps/streams/live/cdn.py); unset: none.
LIVE_S3_SOURCE = env_str("CASTCORE_LIVE_S3_SOURCE", "")
# The live stream (its slug) that the Owncast API serves at the host root (/api/status,
# /ws, …); every stream also has its own base, /owncast/<slug>/ (apps/owncast). Unset:
# the root's Owncast paths answer 404.
OWNCAST_DEFAULT_STREAM = env_str("CASTCORE_OWNCAST_DEFAULT_STREAM", "")
# Request bodies (castcore/bodies.py): the limit of every route that declares none of its own.
# JSON takes some 25 times its size once parsed: 512 KiB of `[{},{},…]` grew a web process
# by 13 MB, 1 MiB by 28 MB.
REQUEST_BODY_MAX_BYTES = env_int("CASTCORE_REQUEST_BODY_MAX_BYTES", 512 * 1024, minimum=1024)
# Accepted request bodies (castcore/serve.py) and the files Django parses out of multipart
# ones are spooled here: the app's own disk, not the system's /tmp, which is RAM where it
# is a tmpfs. Private (0700): bodies hold uploads and credentials.
FILE_UPLOAD_TEMP_DIR = str(
    Path(env_str("CASTCORE_UPLOAD_TEMP_DIR", str(VAR_DIR / "tmp"))).resolve()
)
Path(FILE_UPLOAD_TEMP_DIR).mkdir(mode=0o700, parents=True, exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# --- Security. With DEBUG off the defaults are production-grade, so that
# `manage.py check --deploy` is clean; a TLS-terminating proxy sets
# SECURE_PROXY_SSL_HEADER via CASTCORE_BEHIND_PROXY.
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31_536_000, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", default=not DEBUG)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
if env_bool("CASTCORE_BEHIND_PROXY", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Proxies whose X-Forwarded-For is believed (castcore/client_ip.py); from anyone
# else the header is ignored: a client could send a new one with each request.
TRUSTED_PROXIES = env_networks("CASTCORE_TRUSTED_PROXIES")
# Health checks from load balancers arrive over plain HTTP on the inside.
SECURE_REDIRECT_EXEMPT = [r"^api/v1/system/health$"]

# --- REST framework and the API conventions (castcore/api/).
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "castcore.api.authentication.ApiTokenAuthentication",
        "castcore.api.authentication.JWTAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["castcore.api.permissions.RolePermission"],
    "DEFAULT_PAGINATION_CLASS": "castcore.api.pagination.LimitOffsetPagination",
    "DEFAULT_FILTER_BACKENDS": [
        "castcore.api.filters.FilterBackend",
        # `?ordering=bogus` is refused like an unknown filter choice, not ignored.
        "castcore.api.filters.StrictOrderingFilter",
    ],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        "castcore.api.parsers.JSONParser",
        "rest_framework.parsers.MultiPartParser",
        "rest_framework.parsers.FormParser",
    ],
    "DEFAULT_SCHEMA_CLASS": "castcore.api.schema.CastCoreAutoSchema",
    "EXCEPTION_HANDLER": "castcore.api.errors.exception_handler",
    "DEFAULT_THROTTLE_RATES": {
        "login": env_str("CASTCORE_LOGIN_RATE", "30/min"),
        # Wrong keys on Owncast's admin API (Basic auth), per client address.
        "owncast_admin_failures": env_str("CASTCORE_OWNCAST_ADMIN_FAILURE_RATE", "10/min"),
    },
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env_int("JWT_ACCESS_MINUTES", 15, minimum=1)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env_int("JWT_REFRESH_DAYS", 7, minimum=1)),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": True,
    "AUTH_HEADER_TYPES": ("Bearer",),
    "SIGNING_KEY": SECRET_KEY,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "CastCore API",
    "DESCRIPTION": "Self-hosted control plane for live video.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        # IPTV routes are plain Django views (XMLTV, M3U, tuner, HLS, MPEG-TS).
        "apps.channels.schema.iptv_paths",
    ],
    "ENUM_NAME_OVERRIDES": {
        "RoleEnum": "apps.accounts.roles.Role",
        "LiveVisibilityEnum": "apps.streams.live.models.LiveVisibility",
        "LiveStateEnum": "apps.streams.live.selectors.LiveState.CHOICES",
        "VisibilityEnum": "apps.recordings.models.Visibility",
        "ChatBanKindEnum": "apps.chat.models.BanKind",
        "ChatMessageKindEnum": "apps.chat.models.MessageKind",
        # Two "visibility" choice sets (same values, different labels) need names.
        "ChannelVisibilityEnum": "apps.channels.models.ChannelVisibility",
        "ChannelModeEnum": "apps.channels.models.ChannelMode",
        "BlockModeEnum": "apps.channels.models.BlockMode",
    },
}

# --- Login protection (django-axes): every login path, password and 2FA.
AXES_FAILURE_LIMIT = env_int("CASTCORE_LOGIN_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("CASTCORE_LOGIN_COOLOFF_MINUTES", 15, minimum=1))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "apps.accounts.lockout.lockout_response"
# The client's address as the throttle and the audit log see it (trusted proxies only).
AXES_CLIENT_IP_CALLABLE = "castcore.client_ip.client_ip"
AXES_VERBOSE = False

OTP_TOTP_ISSUER = env_str("CASTCORE_SITE_NAME", "CastCore")
# django-otp's admin would show any user's TOTP seed (and answered a 500 for an unknown
# device id): those two views answer 403 instead.
OTP_ADMIN_HIDE_SENSITIVE_DATA = True
TWO_FACTOR_CHALLENGE_SECONDS = 300

# --- Outgoing mail: Django's own settings, and what notification targets of the form
# `mailto:alice@example.org` send through (apps/integrations/email.py).
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25, minimum=1)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", default=False)  # STARTTLS (port 587)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", default=False)  # TLS from the first byte (465)
if EMAIL_USE_TLS and EMAIL_USE_SSL:
    raise ImproperlyConfigured("EMAIL_USE_TLS and EMAIL_USE_SSL are exclusive; set one.")
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "castcore@localhost")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
EMAIL_TIMEOUT = 30

# --- Celery (castcore/celery.py reads these with the CELERY_ namespace).
CELERY_BROKER_URL = REDIS_URL or "filesystem://"
CELERY_BROKER_TRANSPORT: str | None = None  # None: the one CELERY_BROKER_URL names
BROKER_DIR = VAR_DIR / "broker"
if not REDIS_URL:
    for sub in ("queue", "processed", "control"):
        (BROKER_DIR / sub).mkdir(parents=True, exist_ok=True)
    # kombu's filesystem transport with atomic writes (castcore/broker.py says why).
    CELERY_BROKER_TRANSPORT = "castcore.broker:Transport"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "processed_folder": str(BROKER_DIR / "processed"),
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
        # The folder is polled; kombu's 1 s default would add up to a second
        # to every job start. Listing one small folder 100 times a second is cheap.
        "polling_interval": 0.01,
    }
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_DEFAULT_QUEUE = "default"
# Which queue each task family goes to: FFmpeg work and library scans can be
# pinned to their own workers (`celery worker -Q ffmpeg`).
CELERY_TASK_ROUTES = {
    "workers.stream_jobs.run_stream_job": {"queue": "ffmpeg"},
    "workers.preflight.*": {"queue": "ffmpeg"},
    "scans.*": {"queue": "scans"},
}
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Threads, also for a plain `celery -A castcore worker`: an FFmpeg supervisor mostly
# waits on pipes, ffmpeg's process group dies with the worker process (PDEATHSIG), and
# a warm shutdown (SIGTERM) reaches the stream runs to hand them over, which prefork's
# child processes would not let it do. Eight runs per worker unless --concurrency says.
CELERY_WORKER_POOL = "threads"
CELERY_WORKER_CONCURRENCY = 8
# Celery's Django fixup would force-close database connections around every task;
# castcore/celery.py recycles them by CONN_MAX_AGE instead (the fixup still closes
# them every DB_REUSE_MAX tasks).
CELERY_DB_REUSE_MAX = 1000
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# Periodic work; django-celery-beat copies these into its tables at start, where
# Admins can see and tune them.
CELERY_BEAT_SCHEDULE = {
    # Finds runs whose lease expired (worker killed, host lost): a job's state
    # is right within the lease time plus this interval.
    "reconcile-stream-runs": {
        "task": "workers.stream_jobs.reconcile_stream_runs",
        "schedule": env_float("CASTCORE_STREAM_RECONCILE_INTERVAL_SECONDS", 10.0, minimum=1.0),
    },
    # Ends live sessions whose publisher left more than the grace period ago (when the
    # delayed end was lost) and starts the jobs of connected ones.
    "reconcile-live-sessions": {
        "task": "workers.live_streams.reconcile_live_sessions",
        "schedule": env_float("CASTCORE_LIVE_RECONCILE_INTERVAL_SECONDS", 5.0, minimum=1.0),
    },
    # Live viewer counts over time (ViewerSample rows) and each session's peak.
    "sample-live-viewers": {
        "task": "workers.live_viewers.sample_live_viewers",
        "schedule": float(env_int("CASTCORE_VIEWER_SAMPLE_SECONDS", 30, minimum=5)),
    },
    # system.disk_low / system.disk_recovered when free space crosses the health threshold.
    "watch-disk-space": {
        "task": "workers.system.watch_disk_space",
        "schedule": env_float("CASTCORE_DISK_CHECK_INTERVAL_SECONDS", 60.0, minimum=5.0),
    },
    # Hands over outbox events, webhook retries and notifications that no task carries.
    "sweep-outbox": {
        "task": "workers.events.sweep_outbox",
        "schedule": env_float("CASTCORE_OUTBOX_SWEEP_INTERVAL_SECONDS", 10.0, minimum=1.0),
    },
    "cleanup-unclaimed-recordings": {
        "task": "workers.recordings.cleanup_unclaimed_recordings",
        "schedule": float(env_int("CASTCORE_RETENTION_INTERVAL_SECONDS", 3600, minimum=60)),
    },
    # Runs the scheduled actions that came due (apps.channels.scheduling); each
    # occurrence is claimed by a unique row, so two beats sending it are harmless.
    "run-scheduled-actions": {
        "task": "workers.scheduler.run_scheduled_actions",
        "schedule": env_float("CASTCORE_SCHEDULER_INTERVAL_SECONDS", 5.0, minimum=1.0),
    },
    # Brings back channels that should play and do not; stops idle on-demand ones.
    "keep-channels-playing": {
        "task": "workers.channel_play.keep_channels_playing",
        "schedule": env_float("CASTCORE_CHANNEL_KEEP_PLAYING_SECONDS", 10.0, minimum=1.0),
    },
    # Keeps every channel's playout compiled to the horizon (apps/channels/conf.py).
    "refresh-channel-playouts": {
        "task": "channels.refresh_playouts",
        "schedule": float(env_int("CASTCORE_PLAYOUT_REFRESH_SECONDS", 300, minimum=10)),
    },
    # Renders the guide's next hour before it starts, and what the cache lost; keep it
    # shorter than CASTCORE_GUIDE_WARM_AHEAD_MINUTES (apps/channels/conf.py).
    "warm-channel-guides": {
        "task": "channels.warm_guides",
        "schedule": float(env_int("CASTCORE_GUIDE_WARM_SECONDS", 300, minimum=10)),
    },
}
CELERY_TIMEZONE = TIME_ZONE
WORKER_HEARTBEAT_SECONDS = env_int("CASTCORE_WORKER_HEARTBEAT_SECONDS", 10, minimum=1)
WORKER_SEEN_SECONDS = env_int("CASTCORE_WORKER_SEEN_SECONDS", 60, minimum=5)

FFMPEG_BINARY = env_str("FFMPEG_BINARY", "ffmpeg")
FFPROBE_BINARY = env_str("FFPROBE_BINARY", "ffprobe")

LOG_LEVEL = env_str("LOG_LEVEL", "INFO").upper()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact_secrets": {"()": "castcore.secrets.RedactSecretsFilter"}},
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["redact_secrets"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {"axes": {"level": "WARNING"}, "daphne": {"level": "WARNING"}},
}
