"""Settings, read from the environment.

With no environment set this is the embedded default: SQLite in ``var/``, Celery tasks run
in-process, exports go to ``var/exports``. ``DATABASE_URL``, ``CELERY_BROKER_URL`` and the S3
settings move it to PostgreSQL, Redis and S3 with no code change.
"""

import contextlib
import os
import secrets
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("CDP_VAR_DIR", BASE_DIR / "var"))


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be an integer, got {value!r}") from exc


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if not value:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


def local_secret_key(path: Path) -> str:
    """The embedded default's own secret key: made at random on first use and kept, readable by
    its owner only, in ``path``, so every command of the README works on a fresh clone without
    a shared development key. Written to a temporary file and linked into place, so processes
    starting together all read the one key."""
    with contextlib.suppress(FileNotFoundError):
        key = path.read_text().strip()
        if key:
            return key
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(secrets.token_urlsafe(50))
    try:
        os.link(temporary, path)
    except FileExistsError:
        pass
    finally:
        temporary.unlink()
    return path.read_text().strip()


DEBUG = env_bool("DJANGO_DEBUG", False)
SECRET_KEY = env_str("DJANGO_SECRET_KEY")
if not SECRET_KEY:
    if not env_str("DATABASE_URL"):
        SECRET_KEY = local_secret_key(VAR_DIR / "secret_key")
    elif DEBUG:
        SECRET_KEY = "insecure-local-development-key-not-for-production"
    else:
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY is required when DATABASE_URL is set and DJANGO_DEBUG is off."
        )

ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])

# HTTPS (`manage.py check --deploy`; README "Production settings and CSP"). With DEBUG off,
# plain HTTP is redirected (except /healthz, for load balancers) and cookies are HTTPS-only.
# Behind a proxy that ends TLS, DJANGO_BEHIND_PROXY trusts its X-Forwarded-Proto (and the last
# X-Forwarded-For hop, for the login throttle); only set it when clients cannot reach the app
# but through that proxy. HSTS is opt-in: browsers remember it for DJANGO_SECURE_HSTS_SECONDS.
BEHIND_PROXY = env_bool("DJANGO_BEHIND_PROXY", False)
if BEHIND_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", not DEBUG)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_HSTS_SECONDS = env_int("DJANGO_SECURE_HSTS_SECONDS", 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("DJANGO_SECURE_HSTS_PRELOAD", False)
SESSION_COOKIE_SECURE = env_bool("DJANGO_SECURE_COOKIES", not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE

# Content-Security-Policy (django-csp): scripts only from this app's static files, never inline
# (the admin pages keep their code in static/cdp/admin/, data in json_script blocks). Inline
# styles stay allowed: the flow diagram is inline SVG with its own <style>, Swagger UI and the
# charts set styles. The SDK demo page stands for a customer's site and is left out.
CONTENT_SECURITY_POLICY = {
    "EXCLUDE_URL_PREFIXES": ["/sdk/demo"],
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "axes",
    "csp",
    "cdp",
    "people",
    "events",
    "flows",
]
# The model whose rows own everything else and whose ``members`` are the staff users who
# may see it; the kernel's admin scoping reads it by this name (as Django's AUTH_USER_MODEL).
CDP_WORKSPACE_MODEL = "people.Workspace"

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "cdp.middleware.NulRefusedMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "cdp.middleware.JsonBodyTooLargeMiddleware",
    "cdp.middleware.DatabaseUnavailableMiddleware",
    # Last: turns a login refused by the lock-out into the admin's login page with the reason.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "cdp.urls"
WSGI_APPLICATION = "cdp.wsgi.application"
ASGI_APPLICATION = "cdp.asgi.application"

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
            ],
        },
    },
]

# Database: DATABASE_URL (postgres://…) or the embedded SQLite file.
DATABASE_URL = env_str("DATABASE_URL")
# SQLite writers take the lock when their transaction starts (IMMEDIATE), so ingestion's
# pre-check + insert is race-free and concurrent writers wait (up to `timeout` seconds) instead
# of failing. The web server and the scheduler (`make run` starts both) share the file: in WAL
# mode readers never wait for the writer, and a write waits for the other process's write.
SQLITE_OPTIONS = {
    "timeout": 20,
    "transaction_mode": "IMMEDIATE",
    "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
}
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
    if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
        DATABASES["default"]["OPTIONS"] = dict(SQLITE_OPTIONS)
else:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": Path(env_str("CDP_SQLITE_PATH", str(VAR_DIR / "cdp.sqlite3"))),
            "OPTIONS": dict(SQLITE_OPTIONS),
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Admin login throttling (django-axes): CDP_LOGIN_FAILURE_LIMIT wrong passwords for one user
# name from one address lock that pair out for CDP_LOGIN_COOLOFF_MINUTES (0: until a superuser
# deletes the access attempt in the admin). Other users and addresses are not affected.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env_int("CDP_LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("CDP_LOGIN_COOLOFF_MINUTES", 15)) or None
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "cdp.login_lockout.lockout_response"
AXES_CLIENT_IP_CALLABLE = "cdp.login_lockout.client_address"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env_str("DJANGO_STATIC_ROOT", str(VAR_DIR / "staticfiles")))
# WhiteNoise warns about a missing directory; collectstatic fills it for production.
with contextlib.suppress(OSError):
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# Cache: Redis when configured (rate limits and per-process caches share it), else in-memory.
REDIS_URL = env_str("REDIS_URL") or (
    env_str("CELERY_BROKER_URL") if env_str("CELERY_BROKER_URL").startswith("redis") else ""
)
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "cdp.cache.ReusingRedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Celery: a broker URL sends tasks to workers; without one they run in-process.
CELERY_TASK_ALWAYS_EAGER = not env_str("CELERY_BROKER_URL")
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL") or "memory://localhost/"
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 4
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULER = "cdp.beat:HeartbeatScheduler"  # django-celery-beat's, with a heartbeat
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_MAX_RETRIES = None  # a worker waits out a broker outage, however long
# Heartbeats of workers and the scheduler (cdp.heartbeats): written every CDP_HEARTBEAT_SECONDS;
# a process silent for CDP_HEARTBEAT_SILENT_SECONDS is reported silent (/healthz answers 503
# when the worker of a deployment with a broker is).
CDP_HEARTBEAT_SECONDS = env_int("CDP_HEARTBEAT_SECONDS", 15)
CDP_HEARTBEAT_SILENT_SECONDS = env_int("CDP_HEARTBEAT_SILENT_SECONDS", 90)

# Mail (flow email actions). With EMAIL_HOST set, mail goes out over SMTP; without it (the
# embedded default) each message is written to a file in CDP_MAIL_DIR, which the admin lists
# ("Sent mail"). EMAIL_BACKEND overrides either choice.
EMAIL_HOST = env_str("EMAIL_HOST")
EMAIL_PORT = env_int("EMAIL_PORT", 587)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", not env_bool("EMAIL_USE_SSL", False))
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 30)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "cdp@localhost")
CDP_MAIL_DIR = Path(env_str("CDP_MAIL_DIR", str(VAR_DIR / "mail")))
EMAIL_FILE_PATH = str(CDP_MAIL_DIR)
EMAIL_BACKEND = env_str(
    "EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend"
    if EMAIL_HOST
    else "cdp.mail.FolderEmailBackend",  # Django's file-based backend, files named by time
)

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_AUTHENTICATION_CLASSES": ["cdp.api.auth.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["cdp.api.auth.SecretKeyRequired"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["cdp.api.parsing.JsonParser"],
    "EXCEPTION_HANDLER": "cdp.api.errors.api_exception_handler",
    "DEFAULT_THROTTLE_CLASSES": ["cdp.api.ratelimit.ApiKeyThrottle"],
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 100,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "CDP API",
    "DESCRIPTION": (
        "Customer data platform: events, people, definitions. Authenticate with a workspace "
        "API key: `Authorization: App <key>` (or Bearer, or HTTP Basic with the key as user "
        'name). Errors answer `{"error": {"code", "message", "field"}}`.'
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
    ],
}

# Product settings.
CDP_MAX_CUSTOM_PROPERTIES = env_int("CDP_MAX_CUSTOM_PROPERTIES", 5)
CDP_MAX_BATCH_SIZE = env_int("CDP_MAX_BATCH_SIZE", 1000)
CDP_MAX_TEXT_PROPERTY_LENGTH = env_int("CDP_MAX_TEXT_PROPERTY_LENGTH", 4096)
# Arrays and objects a JSON request body may nest (rule trees, flow graphs need far fewer).
CDP_MAX_JSON_DEPTH = env_int("CDP_MAX_JSON_DEPTH", 64)
CDP_SEGMENT_MAX_BATCH_BYTES = env_int("CDP_SEGMENT_MAX_BATCH_BYTES", None)  # None: body bound
# Requests per API key, e.g. "1000/s" or "60000/m"; empty switches rate limiting off.
CDP_RATE_LIMIT = env_str("CDP_RATE_LIMIT", "1000/s")
RATELIMIT_CACHE_PREFIX = "cdp:rl:"
CDP_INGESTION_LOG_DAYS = env_int("CDP_INGESTION_LOG_DAYS", 30)
# PostgreSQL work_mem of analytics statements (per sort or hash, per process of a parallel plan).
CDP_ANALYTICS_WORK_MEM_MB = env_int("CDP_ANALYTICS_WORK_MEM_MB", 256)
CDP_EXPORT_DIR = Path(env_str("CDP_EXPORT_DIR", str(VAR_DIR / "exports")))
# Exports (§9). A request naming a bucket goes to S3; one without goes to CDP_EXPORT_BUCKET
# when set, else to CDP_EXPORT_DIR. S3 is used only when CDP_EXPORT_S3 is on (by default when
# a default bucket or an S3 endpoint is configured): otherwise a request naming a bucket fails
# with that explanation instead of reaching for credentials over the network.
CDP_EXPORT_BUCKET = env_str("CDP_EXPORT_BUCKET")
CDP_EXPORT_S3 = env_bool(
    "CDP_EXPORT_S3",
    bool(CDP_EXPORT_BUCKET or env_str("AWS_ENDPOINT_URL_S3") or env_str("AWS_ENDPOINT_URL")),
)
CDP_EXPORT_FILE_LINES = max(1, min(env_int("CDP_EXPORT_FILE_LINES", 50_000), 50_000))
CDP_EXPORT_S3_MAX_ATTEMPTS = env_int("CDP_EXPORT_S3_MAX_ATTEMPTS", 5)  # botocore, per call
# A running export whose worker gave no sign of life for this long is resumed by another.
CDP_EXPORT_STALE_SECONDS = env_int("CDP_EXPORT_STALE_SECONDS", 600)
CDP_EXPORT_MAX_RUNS = env_int("CDP_EXPORT_MAX_RUNS", 5)  # then the export fails
# Outbound HTTP (flow webhooks; §11) refuses internal addresses; these hosts are reached anyway
# ("host" for any port, "host:port" for one), e.g. "127.0.0.1:9000,hooks.local" in development.
CDP_OUTBOUND_ALLOWED_HOSTS = env_list("CDP_OUTBOUND_ALLOWED_HOSTS", [])
# The web SDK demo page (/sdk/demo?key=<public key>): on with DEBUG unless set.
CDP_SDK_DEMO = env_bool("CDP_SDK_DEMO", DEBUG)

# Logs never show an API key given as ?access_token= (cdp.log_redaction; gunicorn's access log
# is redacted by gunicorn.conf.py). runserver's request lines (django.server) are redacted too.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact": {"()": "cdp.log_redaction.RedactSecretsFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "django.server": {
            "()": "django.utils.log.ServerFormatter",
            "format": "[{server_time}] {message}",
            "style": "{",
        },
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["redact"]},
        "django.server": {
            "class": "logging.StreamHandler",
            "formatter": "django.server",
            "filters": ["redact"],
        },
    },
    "root": {"handlers": ["console"], "level": env_str("CDP_LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "celery.app.trace": {"level": "WARNING"},
        "django.server": {"handlers": ["django.server"], "level": "INFO", "propagate": False},
    },
}

# Periodic work (installed into django-celery-beat's tables by the beat scheduler).
CELERY_BEAT_SCHEDULE = {
    "outbox-sweep": {"task": "cdp.tasks.outbox_sweep_task", "schedule": 30.0},
    "outbox-prune": {"task": "cdp.tasks.outbox_prune_task", "schedule": 3600.0},
    "ingestion-log-prune": {"task": "events.tasks.ingestion_log_prune_task", "schedule": 3600.0},
}
