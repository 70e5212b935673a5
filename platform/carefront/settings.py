"""Carefront's one settings module.

Configured values come from the environment through `carefront.env` (documented in
docs/configuration.md); computed values follow from them. CAREFRONT_ENV picks the profile:
`development` (the default: embedded PostgreSQL and broker, nothing to set), `test`, or
`production` (every secret required, HTTPS hardening on).
"""

from pathlib import Path

import dj_database_url

from carefront.env import env_bool, env_float, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parents[2]

# --- Configured ------------------------------------------------------------------------------

ENVIRONMENT = env_str("CAREFRONT_ENV", "development")
if ENVIRONMENT not in {"development", "test", "production"}:
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured(
        f"CAREFRONT_ENV={ENVIRONMENT!r}: use development, test or production"
    )
PRODUCTION = ENVIRONMENT == "production"

DEBUG = env_bool("DEBUG", not PRODUCTION and ENVIRONMENT != "test")
SECRET_KEY = env_str(
    "SECRET_KEY",
    # A development-only key; production refuses to start without a real one.
    "dev-insecure-4b1f0c7e-carefront-not-for-production",
    required=PRODUCTION,
)
# Encrypts complainants' contact details at rest (Fernet keys, newest first, comma-separated).
FIELD_ENCRYPTION_KEYS = env_list("FIELD_ENCRYPTION_KEYS", [])

VAR_DIR = Path(env_str("CAREFRONT_VAR_DIR", str(BASE_DIR / "var")))

# Sites are served at <slug>.<BASE_DOMAIN>; the bare domain is the platform and firm console.
BASE_DOMAIN = env_str("BASE_DOMAIN", "localhost")
PUBLIC_HOSTS = env_list("PUBLIC_HOSTS", [BASE_DOMAIN, f"www.{BASE_DOMAIN}", "127.0.0.1"])
SITE_URL_SCHEME = env_str("SITE_URL_SCHEME", "https" if PRODUCTION else "http")
SITE_URL_PORT = env_str("SITE_URL_PORT", "" if PRODUCTION else "8000")

DATABASE_URL = env_str("DATABASE_URL", required=PRODUCTION)
BROKER_URL = env_str("CELERY_BROKER_URL", required=PRODUCTION)
CACHE_URL = env_str("CACHE_URL", "")
SENTRY_DSN = env_str("SENTRY_DSN", "")
SENTRY_ENVIRONMENT = env_str("SENTRY_ENVIRONMENT", ENVIRONMENT)
SENTRY_TRACES_SAMPLE_RATE = env_float("SENTRY_TRACES_SAMPLE_RATE", 0.0)

STRIPE_SECRET_KEY = env_str("STRIPE_SECRET_KEY", "")
STRIPE_PUBLISHABLE_KEY = env_str("STRIPE_PUBLISHABLE_KEY", "")
STRIPE_WEBHOOK_SECRET = env_str("STRIPE_WEBHOOK_SECRET", "")

EMAIL_BACKEND = env_str(
    "EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend"
    if PRODUCTION
    else "django.core.mail.backends.console.EmailBackend",
)
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", f"Carefront <no-reply@{BASE_DOMAIN}>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# How long a web process trusts its in-memory map of domain -> site (see tenants/middleware.py).
TENANT_CACHE_SECONDS = env_float("TENANT_CACHE_SECONDS", 10.0)
# One login across every site of the platform: set to ".<BASE_DOMAIN>" in production.
SESSION_COOKIE_DOMAIN = env_str("SESSION_COOKIE_DOMAIN", "") or None
CONN_MAX_AGE = env_int("CONN_MAX_AGE", 60 if PRODUCTION else 0)
# Public form limits, "count/seconds": per client address (generous: a hospital's guest Wi-Fi
# is one address for many people) and per site.
PUBLIC_FORM_LIMIT_PER_ADDRESS = env_str("PUBLIC_FORM_LIMIT_PER_ADDRESS", "30/600")
PUBLIC_FORM_LIMIT_PER_SITE = env_str("PUBLIC_FORM_LIMIT_PER_SITE", "600/60")
# Only behind a proxy that sets X-Forwarded-For itself.
TRUST_X_FORWARDED_FOR = env_bool("TRUST_X_FORWARDED_FOR", PRODUCTION)

# --- Computed --------------------------------------------------------------------------------

if not DATABASE_URL:
    from carefront.embedded import embedded_database_url

    DATABASE_URL = embedded_database_url(VAR_DIR / "pgdata")

DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=CONN_MAX_AGE)}
DATABASES["default"]["ENGINE"] = "django_tenants.postgresql_backend"
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DATABASE_ROUTERS = ["django_tenants.routers.TenantSyncRouter"]

ALLOWED_HOSTS = env_list(
    "ALLOWED_HOSTS",
    [f".{BASE_DOMAIN}", BASE_DOMAIN, "127.0.0.1"] + ([] if PRODUCTION else ["testserver"]),
)
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

SHARED_APPS = [
    "django_tenants",
    "tenants",
    "billing",
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.admin",
    "django.contrib.staticfiles",
]
# Everything of one hospital or care home lives in its own schema. Wagtail has no
# multi-tenancy of its own, so all of it (and taggit) goes here: each site its own page tree.
# auth is here too because Wagtail's migrations create groups and page permissions in each
# schema; users stay in the public schema and get their rights from Membership rows, never
# from groups (docs/decisions/0002-memberships.md).
TENANT_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "casework",
    "cms",
    "wagtail.contrib.routable_page",
    "wagtail.sites",
    "wagtail.users",
    "wagtail.snippets",
    "wagtail.documents",
    "wagtail.images",
    "wagtail.search",
    "wagtail.admin",
    "wagtail",
    "modelcluster",
    "taggit",
]
INSTALLED_APPS = SHARED_APPS + [app for app in TENANT_APPS if app not in SHARED_APPS]

TENANT_MODEL = "tenants.Site"
TENANT_DOMAIN_MODEL = "tenants.Domain"
PUBLIC_SCHEMA_URLCONF = "carefront.urls_public"
ROOT_URLCONF = "carefront.urls_tenant"
# Our middleware only switches the connection when the site changes, so the SET search_path
# is issued once per connection and site instead of once per request.
TENANT_LIMIT_SET_CALLS = True
# New sites are clones of this schema, which only migrations write (tenants/schemas.py). A
# leading underscore: no site slug can produce the name.
SITE_TEMPLATE_SCHEMA = env_str("SITE_TEMPLATE_SCHEMA", "_site_template")
# `migrate_schemas` skips schemas that are up to date and migrates the rest with this
# executor (tenants/migration.py); "multiprocessing" runs TENANT_MULTIPROCESSING_MAX_PROCESSES.
GET_EXECUTOR_FUNCTION = "tenants.migration.get_executor"
TENANT_MIGRATION_EXECUTOR = env_str("TENANT_MIGRATION_EXECUTOR", "multiprocessing")
TENANT_MULTIPROCESSING_MAX_PROCESSES = env_int("TENANT_MULTIPROCESSING_MAX_PROCESSES", 2)
# Schemas cloned ahead of time, so that opening a site only renames one (tenants/schemas.py).
SITE_SPARE_SCHEMAS = env_int("SITE_SPARE_SCHEMAS", 2)
# Offboarding: days between a deletion request and the earliest deletion.
SITE_DELETION_GRACE_DAYS = env_int("SITE_DELETION_GRACE_DAYS", 30)
AUTH_USER_MODEL = "tenants.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "tenants.backends.SiteRoleBackend",
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"

MIDDLEWARE = [
    "tenants.middleware.SiteMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "tenants.middleware.SiteEditorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

if PRODUCTION:
    # Static files straight from gunicorn; in development runserver serves them.
    MIDDLEWARE.insert(2, "whitenoise.middleware.WhiteNoiseMiddleware")

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "platform" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.debug",
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "tenants.context_processors.site",
            ],
        },
    },
]

WSGI_APPLICATION = "carefront.wsgi.application"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
# Stored times are UTC; each site shows them in its own zone (Site.time_zone).
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "platform" / "static"]
MEDIA_URL = "/media/"
MEDIA_ROOT = VAR_DIR / "media"
MULTITENANT_RELATIVE_MEDIA_ROOT = "%s"
# Case attachments: per site, outside MEDIA_ROOT, served only through checked views.
PRIVATE_MEDIA_ROOT = VAR_DIR / "private"
STORAGES = {
    # Each site's files under MEDIA_ROOT/<schema>/, never mixed.
    "default": {"BACKEND": "django_tenants.files.storage.TenantFileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# Wagtail caches site root paths and renditions under ids that repeat in every schema:
# every alias builds its keys with the schema name (django-tenants #599).
_cache_backend = (
    {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CACHE_URL}
    if CACHE_URL
    else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
)
CACHES = {
    "default": {**_cache_backend, "KEY_FUNCTION": "django_tenants.cache.make_key"},
    "renditions": {**_cache_backend, "KEY_FUNCTION": "django_tenants.cache.make_key"},
}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Wagtail --------------------------------------------------------------------------------
WAGTAIL_SITE_NAME = "Carefront"
WAGTAILADMIN_BASE_URL = f"{SITE_URL_SCHEME}://{BASE_DOMAIN}"
WAGTAILSEARCH_BACKENDS = {"default": {"BACKEND": "wagtail.search.backends.database"}}
WAGTAIL_I18N_ENABLED = False
# django-tasks must stay immediate: a deferred worker would run outside the tenant schema.
TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}

# --- Celery ----------------------------------------------------------------------------------
if BROKER_URL:
    CELERY_BROKER_URL = BROKER_URL
    CELERY_BROKER_TRANSPORT_OPTIONS: dict = {}
else:
    from carefront.embedded import filesystem_broker_options

    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = filesystem_broker_options(VAR_DIR / "broker")
# Nothing in the product waits for a task's result; a backend can be set for diagnostics.
CELERY_RESULT_BACKEND = env_str("CELERY_RESULT_BACKEND", "") or None
CELERY_TASK_IGNORE_RESULT = CELERY_RESULT_BACKEND is None
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE = {
    "heartbeat": {"task": "tenants.tasks.record_heartbeat", "schedule": 60.0},
    # Keeps SITE_SPARE_SCHEMAS clones ready for onboarding (tenants/schemas.py).
    "replenish-spare-schemas": {
        "task": "tenants.tasks.replenish_spare_schemas",
        "schedule": 300.0,
        "options": {"expires": 300.0},
    },
    # Deletes sites whose deletion grace period is over (tenants.services.delete_site).
    "delete-due-sites": {
        "task": "tenants.tasks.delete_due_sites",
        "schedule": 3600.0,
        "options": {"expires": 3600.0},
    },
    # Escalates what is due on every site (docs/decisions/0005-deadline-sweep.md).
    "sweep-deadlines": {
        "task": "casework.tasks.sweep_deadlines",
        "schedule": 60.0,
        "options": {"expires": 60.0},
    },
    # Sends what the outbox holds (docs/decisions/0006-outbox.md); a run left in the queue
    # past the next one is dropped, the next run does its work.
    "relay-outboxes": {
        "task": "casework.tasks.relay_all_outboxes",
        "schedule": 30.0,
        "options": {"expires": 30.0},
    },
}
# Dotted path of the class that sends text messages (casework/sms.py); the default only logs.
SMS_PROVIDER = env_str("SMS_PROVIDER", "casework.sms.LoggingSmsProvider")

# --- Security --------------------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if PRODUCTION:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        "pgserver": {"level": "WARNING"},
        "django_tasks": {"level": "WARNING"},
        "wagtail": {"level": "WARNING"},
    },
}

# --- Sentry ----------------------------------------------------------------------------------
if SENTRY_DSN:
    from carefront.sentry import init_sentry

    init_sentry(
        dsn=SENTRY_DSN,
        environment=SENTRY_ENVIRONMENT,
        traces_sample_rate=SENTRY_TRACES_SAMPLE_RATE,
    )
