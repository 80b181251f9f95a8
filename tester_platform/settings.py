"""Atelier settings. Everything that differs between a laptop demo and production comes
from the environment (see README "Configuration"); `ATELIER_MODE` picks the defaults.
"""

from __future__ import annotations

from pathlib import Path

import dj_database_url

from generation import schedule as generation_schedule
from tester_platform.env import (
    ConfigurationError,
    env_bool,
    env_choice,
    env_int,
    env_list,
    env_str,
)
from tester_platform.finance import schedule as finance_schedule
from tester_platform.labour import schedule as labour_schedule
from tester_platform.notifications import schedule as notifications_schedule

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("ATELIER_VAR_DIR", str(BASE_DIR / "var"))).resolve()
# Local state (SQLite, broker folders, private media, mail) lives here; never in git.
VAR_DIR.mkdir(parents=True, exist_ok=True)

ATELIER_MODE = env_choice("ATELIER_MODE", "demo", ("demo", "production"))
PRODUCTION = ATELIER_MODE == "production"

DEBUG = env_bool("DEBUG", default=not PRODUCTION)
if PRODUCTION and DEBUG:
    raise ConfigurationError("DEBUG must be off in production")

SECRET_KEY = env_str(
    "SECRET_KEY",
    default="" if PRODUCTION else "demo-only-insecure-key-0123456789-abcdefghijklmnopqrstuvwxyz",
    required=PRODUCTION,
)
if PRODUCTION and (len(SECRET_KEY) < 50 or len(set(SECRET_KEY)) < 5):
    raise ConfigurationError("SECRET_KEY must be at least 50 characters with 5 distinct ones")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", [] if PRODUCTION else ["127.0.0.1", "localhost", "testserver"])
if PRODUCTION and not ALLOWED_HOSTS:
    raise ConfigurationError("ALLOWED_HOSTS must be set in production")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
# Links in emails. The demo serves on WEB_PORT (the Makefile passes its PORT), so by default
# links point where the demo actually answers.
SITE_URL = env_str("SITE_URL", f"http://127.0.0.1:{env_int('WEB_PORT', 8000, minimum=1)}").rstrip("/")

INSTALLED_APPS = [
    "tester_platform.admin_mixins.AtelierAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "csp",
    "allauth",
    "allauth.account",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "axes",
    # the product: core apps first, workflow apps after (see import-linter contracts)
    "tester_platform.accounts",
    "tester_platform.audit",
    "tester_platform.programs",
    "tester_platform.consent",
    "tester_platform.notifications",
    "tester_platform.studio",
    "tester_platform.access",
    "tester_platform.sharing",
    "tester_platform.labour",
    "tester_platform.finance",
    "tester_platform.portal",
    "tester_platform.dashboard",
    "tester_platform.api",
    # the engines
    "generation",
    "payments",
]
if not PRODUCTION:
    # Development tools (the scale seeder for load benchmarks); never in production.
    INSTALLED_APPS.append("devtools")

MIDDLEWARE = [
    # first: problem details for whatever any layer below answers or raises on /api/
    "tester_platform.api.middleware.ApiProblemMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "tester_platform.accounts.middleware.StaffTwoFactorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    # a service error that escapes a page view: error.html with its status, never a 500
    "tester_platform.common.handlers.ServiceErrorMiddleware",
    # last, so a locked-out login is answered before any view runs
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "tester_platform.urls"
WSGI_APPLICATION = "tester_platform.wsgi.application"
ASGI_APPLICATION = "tester_platform.asgi.application"

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
                "tester_platform.accounts.context_processors.roles",
                "tester_platform.notifications.context_processors.inbox",
            ],
        },
    },
]

# --- database -------------------------------------------------------------------------
DATABASE_URL = env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'db.sqlite3'}")
try:
    _default_db = dj_database_url.parse(DATABASE_URL, conn_max_age=env_int("DB_CONN_MAX_AGE", 0, minimum=0))
except Exception as exc:  # dj_database_url raises plain ValueError/KeyError on junk
    raise ConfigurationError(f"DATABASE_URL is not a database URL: {exc}") from None
if _default_db["ENGINE"] == "django.db.backends.sqlite3":
    # A web server, a worker and beat write at once: WAL + immediate transactions, or
    # writers meet "database is locked" (docs/design.md, "Running and testing").
    _default_db["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    _test_name = env_str("ATELIER_TEST_SQLITE", str(VAR_DIR / "test-db.sqlite3"))
    _default_db["TEST"] = {"NAME": _test_name}
DATABASES = {"default": _default_db}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- auth -----------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "portal:home"
ACCOUNT_LOGOUT_REDIRECT_URL = "account_login"
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_EMAIL_VERIFICATION = "mandatory" if PRODUCTION else "optional"
ACCOUNT_LOGIN_ON_PASSWORD_RESET = False
ACCOUNT_RATE_LIMITS = {"login_failed": "10/m/ip,5/5m/key"} if PRODUCTION else False
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[Atelier] "

# Staff must pass TOTP in production; the demo skips it so the tour is one password.
STAFF_2FA_REQUIRED = env_bool("STAFF_2FA_REQUIRED", default=PRODUCTION)
# A staff token carries the second factor its holder passed to mint it, for this long.
STAFF_TOKEN_2FA_HOURS = env_int("STAFF_TOKEN_2FA_HOURS", 12, minimum=1)
OTP_TOTP_ISSUER = "Atelier"

AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = 1  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_USERNAME_CALLABLE = "tester_platform.accounts.security.axes_username"
AXES_HTTP_RESPONSE_CODE = 429
AXES_RESET_ON_SUCCESS = True

# --- i18n / static / media ------------------------------------------------------------
LANGUAGE_CODE = "en-us"
FORMS_URLFIELD_ASSUME_HTTPS = True
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
# Media is private: no MEDIA_URL is routed; files leave only through permission-checked views.
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(VAR_DIR / "media")))
# How a permitted media file leaves (tester_platform/common/ranged.py, send_stored_file):
# "python" streams it from the web process (the demo); "x-accel" answers an empty body with
# X-Accel-Redirect to MEDIA_ACCEL_PREFIX + the file's name, an nginx `internal` location
# over MEDIA_ROOT that serves it with Range (docs/deploy.md); "storage-url" redirects to the
# storage backend's signed, short-lived URL (S3: the bucket answers Range). The permission
# check stays in Django in every mode.
MEDIA_SERVE = env_choice("MEDIA_SERVE", "python", ("python", "x-accel", "storage-url"))
MEDIA_ACCEL_PREFIX = env_str("MEDIA_ACCEL_PREFIX", "/_protected_media/")
_s3_bucket = env_str("AWS_STORAGE_BUCKET_NAME", "")
STORAGES = {
    "default": (
        {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": _s3_bucket,
                "default_acl": "private",
                "querystring_auth": True,
                "endpoint_url": env_str("AWS_S3_ENDPOINT_URL", "") or None,
            },
        }
        if _s3_bucket
        else {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(MEDIA_ROOT)}}
    ),
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
if MEDIA_SERVE == "storage-url" and not _s3_bucket:
    # The file system has no signed URLs (and no MEDIA_URL is routed): refuse at start.
    raise ConfigurationError("MEDIA_SERVE=storage-url needs S3-compatible storage (AWS_STORAGE_BUCKET_NAME)")

# --- email ----------------------------------------------------------------------------
EMAIL_BACKEND = env_str(
    "EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend" if PRODUCTION else "django.core.mail.backends.filebased.EmailBackend",
)
EMAIL_FILE_PATH = env_str("EMAIL_FILE_PATH", str(VAR_DIR / "mail"))
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25, minimum=1)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", default=False)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Atelier <no-reply@atelier.test>")

# --- security -------------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = PRODUCTION
CSRF_COOKIE_SECURE = PRODUCTION
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=PRODUCTION)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000 if PRODUCTION else 0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = PRODUCTION
SECURE_HSTS_PRELOAD = PRODUCTION
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if PRODUCTION else None
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "media-src": ["'self'"],
        "connect-src": ["'self'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
        "base-uri": ["'self'"],
        "object-src": ["'none'"],
    }
}

# --- caches (rate limits, sessions, pages; shared by every process) ----------------------
CACHE_URL = env_str("CACHE_URL", "")
if CACHE_URL.startswith(("redis://", "rediss://")):
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": CACHE_URL,
            "KEY_PREFIX": "atelier",
        },
        "pages": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": CACHE_URL,
            "KEY_PREFIX": "atelier-pages",
        },
    }
    # A Redis that stops answering costs a request 2 s, not a hung worker thread.
    for _cache in CACHES.values():
        _cache["OPTIONS"] = {"socket_connect_timeout": 2, "socket_timeout": 2}
elif PRODUCTION:
    # Rate limits, sessions and the page cache's data versions must be one store that every
    # web and worker process shares; a per-host file cache would silently split them.
    raise ConfigurationError("CACHE_URL must be a redis:// URL in production")
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        },
        # Rendered pages (tester_platform/pagecache.py) in their own store, so they never
        # push rate-limit counters or sessions out.
        "pages": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache-pages"),
            "OPTIONS": {"MAX_ENTRIES": 2000},
        },
    }

# Sessions are read on every request: from the cache first, the database behind it.
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
# Seconds a rendered busy page may be reused while its data is unchanged; 0 turns it off
# (tester_platform/pagecache.py).
PAGE_CACHE_SECONDS = env_int("PAGE_CACHE_SECONDS", 60, minimum=0)

# --- API ------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "tester_platform.api.authentication.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # problem-details error answers documented on every operation (tester_platform/api/schema.py)
    "DEFAULT_SCHEMA_CLASS": "tester_platform.api.schema.ProblemAutoSchema",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 25,
    "EXCEPTION_HANDLER": "tester_platform.api.errors.exception_handler",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_THROTTLE_CLASSES": [
        "tester_platform.access.throttles.TokenRateThrottle",
        "tester_platform.access.throttles.ArtistRateThrottle",
    ],
    "DEFAULT_PARSER_CLASSES": ["tester_platform.api.parsers.DepthLimitedJSONParser"],
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Atelier API",
    "DESCRIPTION": "Paid, consented tester programs for generative video models.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Self-hosted Swagger UI: no CDN, and the split view keeps scripts out of the HTML (CSP).
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "ProgramStatusEnum": "tester_platform.programs.models.Program.Status",
        "EnrollmentStatusEnum": "tester_platform.programs.models.Enrollment.Status",
        "PayoutStatusEnum": "payments.models.Payout.Status",
        "PayoutRunStatusEnum": "payments.models.PayoutRun.Status",
        "SeverityEnum": "payments.models.Severity",
        "LedgerRateBasisEnum": "payments.models.LedgerEntry.RateBasis",
        "FeedbackCategoryEnum": "tester_platform.labour.models.FeedbackReport.Category",
        "TaskCategoryEnum": "tester_platform.labour.models.Task.Category",
        "ShotStateEnum": ["done", "running", "waiting"],
        "AppealOutcomeEnum": ["upheld", "overturned"],
    },
}
API_TOKEN_TTL_DAYS = env_int("API_TOKEN_TTL_DAYS", 30, minimum=1)

# --- Celery ---------------------------------------------------------------------------
# Embedded default: `atelierfs://`, kombu's filesystem transport made atomic
# (tester_platform/broker.py). `filesystem://` maps there too: kombu's stock filesystem
# transport loses messages and kills workers when producers and consumers overlap
# (celery/kombu#1551). Redis/RabbitMQ URLs pass through untouched.
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "atelierfs://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    CELERY_BROKER_URL = "atelierfs://" + CELERY_BROKER_URL[len("filesystem://") :]
BROKER_FOLDER = Path(env_str("ATELIER_BROKER_FOLDER", str(VAR_DIR / "broker"))).resolve()
BROKER_EMBEDDED = CELERY_BROKER_URL.startswith("atelierfs://")
if BROKER_EMBEDDED:
    from tester_platform import broker as _broker  # noqa: E402 (registers atelierfs:// with kombu)

    # queue/ (both ways), staging/, processed/, quarantine/, control/ under BROKER_FOLDER
    CELERY_BROKER_TRANSPORT_OPTIONS = _broker.transport_options(BROKER_FOLDER, polling_interval=0.05)
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {}
# Bounded broker calls: a broker that refuses, or accepts and never answers, costs a
# connection 2 s and a publish a few seconds (3 tries, 0 + 0.5 s apart), never a hung
# request or task. Workers still wait for a broker that is not up yet when they start.
CELERY_BROKER_CONNECTION_TIMEOUT = 2.0
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.5, "interval_max": 1}
if CELERY_BROKER_URL.startswith(("redis://", "rediss://", "sentinel://")):
    # Above kombu's 1 s BRPOP wait, so an idle worker's poll never times out.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        **CELERY_BROKER_TRANSPORT_OPTIONS,
        "socket_connect_timeout": 2,
        "socket_timeout": 3,
    }
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
# A GPU worker takes one job at a time and acknowledges it only when done, so a crash
# leaves the message to be redelivered (the conditional claim makes redelivery harmless).
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_BEAT_SCHEDULE: dict = {
    **generation_schedule.beat_schedule(),
    **labour_schedule.beat_schedule(),
    **notifications_schedule.beat_schedule(),
    **finance_schedule.beat_schedule(resume_every=env_int("PAYOUT_RESUME_EVERY_SECONDS", 60, minimum=1)),
    "sharing-resolve-overdue": {
        "task": "tester_platform.sharing.tasks.resolve_overdue_share_requests",
        "schedule": 60.0,
    },
    "access-scan-for-anomalies": {"task": "tester_platform.access.tasks.scan_for_anomalies", "schedule": 10.0},
    "sharing-moderator-digest": {"task": "tester_platform.sharing.tasks.send_moderator_digest", "schedule": 3 * 3600.0},
    # Pins the audit chain's head in AUDIT_CHECKPOINT_FILE, outside the database.
    "audit-checkpoint-chain-head": {"task": "tester_platform.audit.tasks.checkpoint_audit_chain", "schedule": 600.0},
}

# --- Stripe ---------------------------------------------------------------------------
# Demo: the local Stripe (`python -m devtools.localstripe`, the Procfile's `stripe:`
# line) on 127.0.0.1:8420. Stripe's test mode: STRIPE_SECRET_KEY=sk_test_..., the
# endpoint's whsec_... secret, and STRIPE_API_BASE set empty (see README).
import os as _os  # noqa: E402

from devtools.demo_secrets import demo_webhook_secrets, local_stripe_port  # noqa: E402

STRIPE_SECRET_KEY = env_str("STRIPE_SECRET_KEY", "" if PRODUCTION else "sk_test_atelier_local")
# Two endpoints, two signing secrets: the platform's own events (transfers) at
# /webhooks/stripe/, and the Connect endpoint at /webhooks/stripe/connect/ for events on the
# artists' connected accounts (account.updated, payout.*; each names its `account`). The
# demo generates both once per state folder, shared with the local Stripe it starts, so two
# demos on one machine never accept each other's events.
_DEMO_WEBHOOK_SECRETS = {} if PRODUCTION else demo_webhook_secrets(VAR_DIR / "stripe-webhook-secrets.json")
STRIPE_WEBHOOK_SECRET = env_str("STRIPE_WEBHOOK_SECRET", _DEMO_WEBHOOK_SECRETS.get("platform", ""))
STRIPE_CONNECT_WEBHOOK_SECRET = env_str("STRIPE_CONNECT_WEBHOOK_SECRET", _DEMO_WEBHOOK_SECRETS.get("connect", ""))
# The demo's web server listens on WEB_PORT (the Makefile sets it; honcho's own PORT differs
# per process) and its local Stripe on WEB_PORT + 420 (8420 beside 8000), unless STRIPE_PORT says.
WEB_PORT = env_int("WEB_PORT", 8000, minimum=1)
STRIPE_API_BASE = env_str(
    "STRIPE_API_BASE",
    "" if PRODUCTION else f"http://127.0.0.1:{local_stripe_port(WEB_PORT, env_int('STRIPE_PORT', 0, minimum=0))}",
)
if _os.environ.get("STRIPE_API_BASE", None) == "":
    STRIPE_API_BASE = ""  # set but empty: talk to api.stripe.com (test mode with an sk_test_ key)
if STRIPE_API_BASE and not STRIPE_API_BASE.startswith(("http://127.0.0.1", "http://localhost", "https://")):
    raise ConfigurationError("STRIPE_API_BASE is https://..., or http:// on this machine (the local Stripe)")
if PRODUCTION and STRIPE_SECRET_KEY.startswith("sk_test_atelier"):
    raise ConfigurationError("STRIPE_SECRET_KEY is the demo key; use a real Stripe key in production")

# A payout run that records no progress for this long (a killed worker, a lost connection)
# is resumed by the beat task finance.payout_runs_resume, through the same idempotent path.
PAYOUT_RUN_STALL_SECONDS = env_int("PAYOUT_RUN_STALL_SECONDS", 600, minimum=1)

# --- provenance: signing keys live outside the database and the repository ----------------
PROVENANCE_KEY_DIR = Path(env_str("PROVENANCE_KEY_DIR", str(VAR_DIR / "provenance")))

# --- demo -----------------------------------------------------------------------------
DEMO_PASSWORD = env_str("DEMO_PASSWORD", "atelier-demo")

LOG_FORMAT = env_choice("LOG_FORMAT", "json" if PRODUCTION else "plain", ("plain", "json"))
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"job_id": {"()": "generation.logcontext.JobIdFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [job=%(job_id)s] %(message)s"},
        "json": {"()": "tester_platform.logformat.JsonFormatter"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["job_id"]}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"axes": {"level": "WARNING"}},
}

# Prometheus scrapes /metrics with this bearer token; without one the endpoint is off.
METRICS_TOKEN = env_str("METRICS_TOKEN", "" if PRODUCTION else "demo-metrics-token")

# --- audit chain: each event's link is an HMAC under a key from here, never from the data ----
from tester_platform.audit.keys import DEMO_AUDIT_CHAIN_KEY, parse_chain_keys  # noqa: E402

# "<id>:<secret>" signs new events; AUDIT_CHAIN_OLD_KEYS="<id>:<secret>,..." keeps rotated-out
# keys so the events they signed still verify (tester_platform/audit/keys.py).
AUDIT_CHAIN_KEY_ID, AUDIT_CHAIN_KEYS = parse_chain_keys(
    env_str("AUDIT_CHAIN_KEY", "" if PRODUCTION else DEMO_AUDIT_CHAIN_KEY, required=PRODUCTION),
    env_list("AUDIT_CHAIN_OLD_KEYS", []),
    production=PRODUCTION,
)
# Signed checkpoints of the chain head (beat, every 10 minutes). Keep the file where the
# database's writers cannot write: it is what catches a chain rewritten with the key.
AUDIT_CHECKPOINT_FILE = Path(env_str("AUDIT_CHECKPOINT_FILE", str(VAR_DIR / "audit-checkpoints.jsonl")))

# --- production refuses every secret shipped in this repository (tester_platform/checks.py) ---
if PRODUCTION:
    from tester_platform.checks import production_secret_problems  # noqa: E402

    _secret_problems = production_secret_problems(
        secret_key=SECRET_KEY,
        stripe_secret_key=STRIPE_SECRET_KEY,
        stripe_webhook_secret=STRIPE_WEBHOOK_SECRET,
        stripe_connect_webhook_secret=STRIPE_CONNECT_WEBHOOK_SECRET,
        metrics_token=METRICS_TOKEN,
        audit_chain_keys=AUDIT_CHAIN_KEYS,
    )
    if _secret_problems:
        raise ConfigurationError("; ".join(_secret_problems))
