"""Settings, read from the environment (see ``.env.example`` and the README).

The defaults need no server: a SQLite file under ``var/`` and kombu's
``filesystem://`` broker. ``DATABASE_URL=mysql://...`` and
``CELERY_BROKER_URL=amqp://...`` (or ``redis://...``) switch to real servers
without any code change.
"""

from pathlib import Path

import environ
from django.utils.translation import gettext_lazy as _
from kombu import Exchange, Queue

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(environ.Env().str("OPSPLATFORM_VAR_DIR", default=str(BASE_DIR / "var")))

env = environ.Env()
env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DJANGO_DEBUG", default=False)

# Without a key and with debug off, the web refuses to start (opsplatform/startup.py); commands
# that sign nothing (migrations, checks) still run.
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="")
if not SECRET_KEY and DEBUG:
    SECRET_KEY = "insecure-development-key-only-used-when-DJANGO_DEBUG-is-true"

ALLOWED_HOSTS = env.list(
    "DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]", "testserver"] if DEBUG else []
)
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "common",
    # Dependencies point down this list: orders -> tasks -> coretasker, orders -> billing.
    "coretasker",
    "simcloud",
    "billing",
    "tasks",
    "orders",
    "demo",
    "api",
    "console",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "opsplatform.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = "opsplatform.wsgi.application"
ASGI_APPLICATION = "opsplatform.asgi.application"

# --- Database -----------------------------------------------------------------
VAR_DIR.mkdir(parents=True, exist_ok=True)
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
_db = DATABASES["default"]
if _db["ENGINE"] == "django.db.backends.sqlite3":
    # Web, workers and beat write at once: WAL lets readers run beside a writer,
    # the busy timeout waits instead of failing, and IMMEDIATE takes the write lock
    # at BEGIN so two writers queue up instead of deadlocking on lock upgrade.
    _db["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
        **_db.get("OPTIONS", {}),
    }
elif _db["ENGINE"] in ("django.db.backends.mysql",):
    # sql_mode is left to the server: init_command would replace its whole list.
    _db["OPTIONS"] = {"charset": "utf8mb4", **_db.get("OPTIONS", {})}
    _db["TEST"] = {"CHARSET": "utf8mb4", "COLLATION": "utf8mb4_unicode_ci"}
_db["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=0)
# Celery workers keep their connection across messages (opsplatform/celery.py applies it):
# opening one per message costs more than most pipeline steps. Checked before reuse.
WORKER_DATABASE_CONN_MAX_AGE = env.int("WORKER_DATABASE_CONN_MAX_AGE", default=600)
# Without this, Celery's Django fixup closes every connection before and after each task,
# whatever CONN_MAX_AGE says. With it, the fixup leaves them open and opsplatform/celery.py
# recycles them by age and health check, as Django does around each web request.
CELERY_DB_REUSE_MAX = 10**9 if WORKER_DATABASE_CONN_MAX_AGE > 0 else None

# One cache for every process on every host, in the database the platform already has: the
# API's write throttle counts per client there (a per-process cache would multiply the rate
# by the number of web processes). The table is created by `migrate` (common/migrations).
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.db.DatabaseCache",
        "LOCATION": env.str("CACHE_TABLE", default="opsplatform_cache"),
    }
}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- Languages ------------------------------------------------------------------
LANGUAGE_CODE = env.str("DJANGO_LANGUAGE_CODE", default="en")
LANGUAGES = [("en", _("English")), ("zh-hans", _("Simplified Chinese"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
TIME_ZONE = env.str("DJANGO_TIME_ZONE", default="Asia/Shanghai")
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"

# --- Security (production defaults; DEBUG relaxes what a laptop cannot serve) -------
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = env.bool("DJANGO_SECURE_COOKIES", default=not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

# --- REST API (api/) ------------------------------------------------------------------
# Token first: an anonymous request gets 401 with WWW-Authenticate: Token. Session
# authentication serves the browsable API to people logged in to the admin.
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "api.authentication.ClientTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "api.ordering.StableOrderingFilter",
    ],
    "DEFAULT_PAGINATION_CLASS": "api.pagination.Pagination",
    "PAGE_SIZE": env.int("API_PAGE_SIZE", default=50),
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_THROTTLE_CLASSES": ["api.throttling.WriteRateThrottle"],
    # Writes per client (token or user); reads are not throttled.
    "DEFAULT_THROTTLE_RATES": {"write": env.str("API_WRITE_THROTTLE_RATE", default="120/min")},
    "EXCEPTION_HANDLER": "api.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "api.schema.AutoSchema",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Cloud operations platform API",
    "DESCRIPTION": (
        "Orders, resource operations, tasks, renewals and billing of the cloud operations platform. "
        "Authenticate with `Authorization: Token <key>`. A customer client's token sees and changes only "
        "its customer's rows (another customer's row answers 404); a staff/service token's rights are its "
        "Django permissions. Every error answers with the `Error` body."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    # Several tables have a "status" (or "billing_cycle", "fail_reason") of their own: name each set.
    "ENUM_NAME_OVERRIDES": {
        "OperationStatusEnum": "tasks.models.OperationStatus",
        "TaskStatusEnum": "tasks.models.TaskStatus",
        "SubtaskStatusEnum": "tasks.models.SubtaskStatus",
        "OrderStatusEnum": "orders.models.OrderStatus",
        "SubOrderStatusEnum": "orders.models.SubOrderStatus",
        "RenewalStatusEnum": "orders.models.RenewalStatus",
        "OrderFailReasonEnum": "orders.models.OrderFailReason",
        "RenewalFailReasonEnum": "orders.models.RenewalFailReason",
        "PriceBillingCycleEnum": "billing.models.BillingCycle",
        "OrderBillingCycleEnum": [("month", "month"), ("year", "year")],
    },
    # Swagger UI from the drf-spectacular-sidecar package's static files: no CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# --- Celery -------------------------------------------------------------------------
# The three tasker queues keep the notes' names; coreTasker has its own queue, which
# takes message priorities (RabbitMQ x-max-priority; Redis priority steps).
QUEUE_OPERATION_TASK = "queue_operation_task_V3"
QUEUE_SUBTASK = "queue_subtask_V3"
QUEUE_TASKDONE = "queue_taskdone_V3"
QUEUE_CORETASKER = "queue_coretasker"
CORETASKER_MAX_PRIORITY = 9

# The cloud coreTasker drives: a dotted path to a coretasker.drivers.Driver subclass.
CORETASKER_DRIVER = env.str("CORETASKER_DRIVER", default="simcloud.driver.SimulatedCloudDriver")
# The simulated cloud: seconds each plan step takes, and the share of steps that fail at random.
SIMCLOUD_ACTION_SECONDS = env.float("SIMCLOUD_ACTION_SECONDS", default=0.05)
SIMCLOUD_FAILURE_RATE = env.float("SIMCLOUD_FAILURE_RATE", default=0.0)

BROKER_DIR = VAR_DIR / "broker"
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
CELERY_BROKER_TRANSPORT_OPTIONS = {}
if CELERY_BROKER_URL.startswith("filesystem://"):
    # All four folders, control_folder included, or broadcast (pidbox) fails.
    _folders = {
        "data_folder_in": BROKER_DIR / "queue",
        "data_folder_out": BROKER_DIR / "queue",
        "processed_folder": BROKER_DIR / "processed",
        "control_folder": BROKER_DIR / "control",
    }
    for _folder in _folders.values():
        _folder.mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_folders["data_folder_in"]),
        "data_folder_out": str(_folders["data_folder_out"]),
        "processed_folder": str(_folders["processed_folder"]),
        "control_folder": str(_folders["control_folder"]),
        "store_processed": False,
    }
elif CELERY_BROKER_URL.startswith("redis"):
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "priority_steps": list(range(CORETASKER_MAX_PRIORITY + 1)),
        "sep": ":",
        "queue_order_strategy": "priority",
    }
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
CELERY_TASK_DEFAULT_QUEUE = QUEUE_OPERATION_TASK
CELERY_TASK_QUEUES = [
    Queue(QUEUE_OPERATION_TASK, Exchange(QUEUE_OPERATION_TASK), routing_key=QUEUE_OPERATION_TASK),
    Queue(QUEUE_SUBTASK, Exchange(QUEUE_SUBTASK), routing_key=QUEUE_SUBTASK),
    Queue(QUEUE_TASKDONE, Exchange(QUEUE_TASKDONE), routing_key=QUEUE_TASKDONE),
    Queue(
        QUEUE_CORETASKER,
        Exchange(QUEUE_CORETASKER),
        routing_key=QUEUE_CORETASKER,
        queue_arguments={"x-max-priority": CORETASKER_MAX_PRIORITY},
    ),
]
# Routing by task name prefix: each module of entry points maps to one queue.
CELERY_TASK_ROUTES = {
    "taskercenter.*": {"queue": QUEUE_OPERATION_TASK},
    "taskconsumer.*": {"queue": QUEUE_SUBTASK},
    "taskdone.*": {"queue": QUEUE_TASKDONE},
    "coretasker.*": {"queue": QUEUE_CORETASKER},
    "billing.*": {"queue": QUEUE_OPERATION_TASK},
    "orders.*": {"queue": QUEUE_OPERATION_TASK},
}
# A message is acknowledged after its task ran, so a worker that dies mid-step
# leaves it to be redelivered; consumers are idempotent for exactly that reason.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = env.int("CELERY_WORKER_PREFETCH_MULTIPLIER", default=1)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"

# The living demo (demo/): its beat job is enabled only in demo mode; `make run` turns it on.
DEMO_MODE = env.bool("DEMO_MODE", default=False)

# --- Renewals -------------------------------------------------------------------------
# A sub-order is renewed when it expires within this window; a failed renewal is
# retried with backoff (base doubling up to the cap) until the grace period after
# expiry ends, then the sub-order is suspended.
RENEWAL_WINDOW_HOURS = env.int("RENEWAL_WINDOW_HOURS", default=72)
RENEWAL_GRACE_DAYS = env.int("RENEWAL_GRACE_DAYS", default=7)
RENEWAL_RETRY_BASE_MINUTES = env.int("RENEWAL_RETRY_BASE_MINUTES", default=30)
RENEWAL_RETRY_MAX_HOURS = env.int("RENEWAL_RETRY_MAX_HOURS", default=24)
RENEWAL_BATCH_SIZE = env.int("RENEWAL_BATCH_SIZE", default=1000)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# --- Tasker pipeline (tasks app) ------------------------------------------------------
# A message redelivered more often than this (its worker died each time) ends as ERROR.
TASKER_MAX_DELIVERIES = env.int("TASKER_MAX_DELIVERIES", default=3)
# A consumer that meets a transient database error (deadlock victim, lock wait timeout,
# lost connection) sends its message again, with backoff, at most this often (common/transient.py).
TASKER_TRANSIENT_RETRIES = env.int("TASKER_TRANSIENT_RETRIES", default=5)
# The lost-message sweeper re-sends for rows left waiting longer than this.
TASKER_STALE_SECONDS = env.int("TASKER_STALE_SECONDS", default=60)
# An order message that arrives before an order expander is registered is retried this often.
TASKER_ORDER_RETRIES = env.int("TASKER_ORDER_RETRIES", default=60)
TASKER_ORDER_RETRY_SECONDS = env.int("TASKER_ORDER_RETRY_SECONDS", default=60)
# kombu's filesystem transport sleeps this long when a queue is empty (its default, 1 s,
# adds up to a second to every hop of the pipeline).
if CELERY_BROKER_URL.startswith("filesystem://"):
    CELERY_BROKER_TRANSPORT_OPTIONS.setdefault(
        "polling_interval", env.float("CELERY_BROKER_POLLING_INTERVAL", default=0.1)
    )
