"""Settings for fraudsite, read from the environment (and an optional `.env` file).

With no configuration at all the defaults serve a local run: SQLite, Kafka at localhost:9092,
no Schema Registry, an in-memory channel layer. Production switches by environment only; see
`.env.example` and docs/configuration.md.
"""

import importlib.util
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured

from fraudsite.security import local_secret_key

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
if (BASE_DIR / ".env").exists():
    environ.Env.read_env(BASE_DIR / ".env")

# Debug pages show settings and every URL pattern: only when asked for.
DEBUG = env.bool("DEBUG", default=False)

LOOPBACK_HOSTS = ["localhost", "127.0.0.1", "[::1]"]
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=LOOPBACK_HOSTS)
# A site served to this machine only (the default hosts) may run over plain HTTP with a key
# generated once into .secret-key. Naming any other host makes it a deployment: SECRET_KEY must
# come from the environment, and HTTPS is on unless HTTPS_ONLY=False.
LOCAL_ONLY = set(ALLOWED_HOSTS) <= set(LOOPBACK_HOSTS)
SECRET_KEY = env("SECRET_KEY", default="") or (local_secret_key(BASE_DIR / ".secret-key") if LOCAL_ONLY else "")
if not SECRET_KEY:
    raise ImproperlyConfigured(
        f"Set SECRET_KEY in the environment: ALLOWED_HOSTS ({', '.join(ALLOWED_HOSTS)}) serves beyond this machine.")
HTTPS_ONLY = env.bool("HTTPS_ONLY", default=not LOCAL_ONLY)
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "simple_history",
    "axes",
    "csp",
    "accounts",
    "outbox",
    "users",
    "transactions",
    "alerts",
    "proposals",
    "watchlists",
    "counterrules",
    "webhooks",
    "rest_framework",
    "rest_framework_api_key",
    "drf_spectacular",
    "api",
    "localstack",
    "cloud",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "fraudsite.middleware.RejectControlCharacters",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    "csp.middleware.CSPMiddleware",
    "fraudsite.middleware.NoStoreForSignedInUsers",
    "accounts.devices.DeviceCookieMiddleware",  # marks the browsers people signed in on (see AXES_ below)
    # Last, as django-axes asks: it turns a locked-out sign-in into the lockout answer.
    "axes.middleware.AxesMiddleware",
]

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # refuses sign-in while locked out
    "django.contrib.auth.backends.ModelBackend",
]
# Login throttling on every sign-in form (the admin's and the site's): after this many wrong
# passwords for one username from one address, that pair is locked out for a while (HTTP 429).
# `python manage.py axes_reset_username NAME` lifts a lockout early.
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("LOGIN_LOCKOUT_MINUTES", default=15))
# The pair, never the username alone (anyone could lock anyone out from anywhere) nor the address
# alone (one guesser would lock out a whole office behind one address).
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
# A lockout ends when its cool-off ends: tries while locked out (the guesser's, or the person's own)
# do not extend it, so a guesser cannot keep someone out by trying on.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
# A browser in which the person signed in before counts its own failures and is not locked out by
# a stranger's at the same address (accounts/devices.py).
AXES_WHITELIST_CALLABLE = "accounts.devices.is_trusted_device"
AXES_HTTP_RESPONSE_CODE = 429
# A sign-in does not wipe the pair's failures: at a shared address they may be a stranger's, who
# would otherwise get a fresh set of guesses each time the person signs in. They expire with the cool-off.
AXES_RESET_ON_SUCCESS = False

ROOT_URLCONF = "fraudsite.urls"

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

ASGI_APPLICATION = "fraudsite.asgi.application"

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
# A pool of PostgreSQL connections per process (psycopg's pool, built into Django), shared by the
# web server's request threads: each request runs in a thread of its own, and a connection opened
# per request would cost more than the request (and run PostgreSQL out of connection slots under
# load). 0 turns it off. DATABASE_POOL_TIMEOUT: how long a request or command waits for a pooled
# connection before it fails (with PostgreSQL down, before it says so).
DATABASE_POOL_SIZE = env.int("DATABASE_POOL_SIZE", default=20)
DATABASE_POOL_TIMEOUT = env.float("DATABASE_POOL_TIMEOUT", default=10)
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and DATABASE_POOL_SIZE:
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": 1, "max_size": DATABASE_POOL_SIZE, "timeout": DATABASE_POOL_TIMEOUT}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env("STATIC_ROOT", default=str(BASE_DIR / "staticfiles")))
# Leaflet's own files, as the django-leaflet package ships them. The package is not an installed
# app: its admin module needs GeoDjango's GDAL, which this project does not use.
STATICFILES_DIRS = [
    Path(importlib.util.find_spec("leaflet").origin).parent / "static",
    # Country outlines (Natural Earth, via mbostock's world-atlas) and the TopoJSON reader, as the
    # npm packages ship them; `make setup` installs them from package-lock.json.
    ("basemap/world-atlas", BASE_DIR / "node_modules" / "world-atlas"),
    ("basemap/topojson-client", BASE_DIR / "node_modules" / "topojson-client" / "dist"),
    # Chart.js draws the analytics page's charts (its UMD build, every chart type registered).
    ("charts/chart.js", BASE_DIR / "node_modules" / "chart.js" / "dist"),
]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        # Compressed, not renamed by content hash: pages render (and tests run) whether or not
        # collectstatic has run; WhiteNoise serves the collected files with a short max-age.
        "BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"
    },
}

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "operator"
LOGOUT_REDIRECT_URL = "login"

# The maps draw country outlines that need no network; a site with a tile server names it here
# (e.g. https://tile.openstreetmap.org/{z}/{x}/{y}.png), and its tiles cover the outlines.
MAP_TILE_URL = env("MAP_TILE_URL", default="")
MAP_TILE_ATTRIBUTION = env("MAP_TILE_ATTRIBUTION", default="")  # the tile server's credit (HTML)

# Content-Security-Policy: scripts, styles and connections from this site only (no inline script
# or event handler runs), images also from the tile server.
_tiles = urlsplit(MAP_TILE_URL)
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:", *([f"{_tiles.scheme}://{_tiles.netloc}"] if _tiles.netloc else [])],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}

# What POST /api/transactions accepts.
TRANSACTION_MAX_AMOUNT = env.float("TRANSACTION_MAX_AMOUNT", default=1_000_000)
# Client timestamps further than this from the server's clock are refused.
TRANSACTION_MAX_FUTURE_SECONDS = env.int("TRANSACTION_MAX_FUTURE_SECONDS", default=300)
TRANSACTION_MAX_PAST_SECONDS = env.int("TRANSACTION_MAX_PAST_SECONDS", default=24 * 3600)

# The decision API (/api/v1/decisions) waits this long for the job's verdict, then answers
# review with timed_out (the verdict is stored when it comes).
DECISION_BUDGET_MS = env.int("DECISION_BUDGET_MS", default=150)
# The answer when the job's verdict cannot be given within the budget (timed_out or shed): what
# the issuer's processor falls back to. One of approve, review, decline.
DECISION_FALLBACK = env.str("DECISION_FALLBACK", default="review")
if DECISION_FALLBACK not in ("approve", "review", "decline"):
    raise ImproperlyConfigured(f"DECISION_FALLBACK must be approve, review or decline, not {DECISION_FALLBACK!r}")
# Admission control, per web process (api/endpoint.py): with this many decisions waiting, or with
# the event loop this late (the process out of CPU), a request is answered at once with the
# fallback, flagged shed, and nothing is sent.
DECISION_MAX_IN_FLIGHT = env.int("DECISION_MAX_IN_FLIGHT", default=200)
DECISION_SHED_LAG_MS = env.int("DECISION_SHED_LAG_MS", default=40)
# Whether the decision path's writes (the transaction row, the Idempotency-Key claim and answer)
# wait for PostgreSQL to flush its write-ahead log to disk. Off by default: on a disk shared with
# Kafka and Flink that flush was most of a decision's time (bench/RESULTS.md), and a PostgreSQL
# crash can lose only the last moments of those rows, never a verdict (docs/api/decisions.md).
DECISION_SYNCHRONOUS_COMMIT = env.bool("DECISION_SYNCHRONOUS_COMMIT", default=False)
# HAProxy in front (python -m fraudsite.proxy): at most this many decisions in the web tier at
# once, all processes together; one that waited PROXY_QUEUE_MS for its turn gets the fallback, and
# one the web tier has not answered PROXY_SERVER_TIMEOUT_MS after it went in gets the timed-out
# fallback from HAProxy. The two add up to the budget + 50 ms: the longest a caller waits.
PROXY_DECISIONS_IN_FLIGHT = env.int("PROXY_DECISIONS_IN_FLIGHT", default=100)
PROXY_QUEUE_MS = env.int("PROXY_QUEUE_MS", default=DECISION_BUDGET_MS // 5)
PROXY_SERVER_TIMEOUT_MS = env.int("PROXY_SERVER_TIMEOUT_MS", default=DECISION_BUDGET_MS + 50 - PROXY_QUEUE_MS)
# API keys and customers are read again after this long: a revoked key or a deactivated customer
# is refused by every process within it.
LOOKUP_CACHE_SECONDS = env.float("LOOKUP_CACHE_SECONDS", default=1.0)
# Who may read /metrics (Prometheus): the scraper beside the site, not the internet.
METRICS_ALLOWED_IPS = env.list("METRICS_ALLOWED_IPS", default=["127.0.0.1", "::1"])
# Machine clients: API keys (api.ClientKey), each with its scopes and rate; no session, no CSRF.
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["api.authentication.ClientKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "fraudsite decision API",
    "DESCRIPTION": "Card-transaction decisions for the authorization path. Authenticate with "
                   "`Authorization: Api-Key <key>` (keys are made in the admin).",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
}

# The worker and the web server are separate processes: a real deployment needs Redis.
REDIS_URL = env("REDIS_URL", default="")
# The API keys' rate limits are counted in the cache: shared by every web process through Redis.
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
# Each open WebSocket holds a channel-layer connection while it waits: room for every operator's
# sockets (WEBSOCKETS_PER_USER each) plus the worker's pushes.
REDIS_MAX_CONNECTIONS = env.int("REDIS_MAX_CONNECTIONS", default=500)
# More sockets than this for one user are refused (close code 4429); their older ones stay up.
WEBSOCKETS_PER_USER = env.int("WEBSOCKETS_PER_USER", default=10)
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            # Room for bursts: a client more than this many verdicts behind starts losing them.
            "CONFIG": {
                # redis-py's default read timeout (5 s) equals channels-redis' blocking pop (5 s):
                # an idle socket's wait then timed out and closed it with 1011. Reads may take longer.
                "hosts": [{"address": REDIS_URL, "max_connections": REDIS_MAX_CONNECTIONS, "socket_timeout": 15}],
                "capacity": 1000,
                # A socket that vanished without a disconnect leaves the operators group this soon
                # (Channels' default is a day), and it is no longer sent every verdict.
                "group_expiry": 600,
            },
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# --- Local stack (manage.py stack up|down|status) ---------------------------------------------
# Data, logs, pids; a relative path is taken from the project directory (processes run inside it).
# `make run` keeps the default; `make test` sets a directory of the tests' own.
PRODUCT_STACK_DIR = BASE_DIR / ".stack"
STACK_DIR = BASE_DIR / Path(env("STACK_DIR", default=str(PRODUCT_STACK_DIR))).expanduser()
STACK_CACHE_DIR = Path(env("STACK_CACHE_DIR", default="~/.cache/fraudsite")).expanduser()
STACK_KAFKA_PORT = env.int("STACK_KAFKA_PORT", default=9092)
STACK_KAFKA_CONTROLLER_PORT = env.int("STACK_KAFKA_CONTROLLER_PORT", default=9093)
STACK_FLINK_REST_PORT = env.int("STACK_FLINK_REST_PORT", default=8081)
STACK_FLINK_RPC_PORT = env.int("STACK_FLINK_RPC_PORT", default=6123)
STACK_FLINK_PARALLELISM = env.int("STACK_FLINK_PARALLELISM", default=1)
# Where the local job keeps its state: "hashmap" (the JVM heap) or "rocksdb" (local disk, as a
# production cluster holding day-long counter windows must).
STACK_FLINK_STATE_BACKEND = env.str("STACK_FLINK_STATE_BACKEND", default="hashmap")
# The TaskManager's process size (Flink's memory syntax, e.g. 1728m or 8g); its heap is about a third.
STACK_FLINK_TASKMANAGER_MEMORY = env.str("STACK_FLINK_TASKMANAGER_MEMORY", default="1728m")

# --- Kafka ---------------------------------------------------------------------------------
KAFKA_BOOTSTRAP_SERVERS = env("KAFKA_BOOTSTRAP_SERVERS", default=f"localhost:{STACK_KAFKA_PORT}")
KAFKA_SECURITY_PROTOCOL = env("KAFKA_SECURITY_PROTOCOL", default="PLAINTEXT")
KAFKA_SASL_MECHANISM = env("KAFKA_SASL_MECHANISM", default="PLAIN")
KAFKA_SASL_USERNAME = env("KAFKA_SASL_USERNAME", default="")
KAFKA_SASL_PASSWORD = env("KAFKA_SASL_PASSWORD", default="")
# How long a produce may wait for the broker's acknowledgement before it counts as failed.
KAFKA_DELIVERY_TIMEOUT_MS = env.int("KAFKA_DELIVERY_TIMEOUT_MS", default=5000)

# Per consumer of the verdicts, which Flink on Confluent Cloud writes in Kafka transactions that
# commit at its checkpoints, up to a minute apart (docs/confluent-cloud.md, Transactions and
# isolation level). read_uncommitted sees a record as soon as it is written, possibly one of a
# transaction that is later aborted; read_committed only once its transaction commits.
# The verdict worker stores only what is committed: never a verdict of an aborted transaction.
KAFKA_ISOLATION_LEVEL = env("KAFKA_ISOLATION_LEVEL", default="read_committed")
# The decision API (transactions/verdict_waiter.py) answers within DECISION_BUDGET_MS (150 ms):
# waiting for a commit would turn every answer into the fallback.
DECISION_ISOLATION_LEVEL = env("DECISION_ISOLATION_LEVEL", default="read_uncommitted")

SCHEMA_REGISTRY_URL = env("SCHEMA_REGISTRY_URL", default="")
SCHEMA_REGISTRY_API_KEY = env("SCHEMA_REGISTRY_API_KEY", default="")
SCHEMA_REGISTRY_API_SECRET = env("SCHEMA_REGISTRY_API_SECRET", default="")
# False where the schemas are registered by someone else (Terraform, in Confluent Cloud) and the
# app's key may only read them: the app then looks up the id of the repo's schema.
SCHEMA_REGISTRY_AUTO_REGISTER = env.bool("SCHEMA_REGISTRY_AUTO_REGISTER", default=True)

TOPIC_USERS_CONFIG = env("TOPIC_USERS_CONFIG", default="users-config")
TOPIC_CARD_TRANSACTIONS = env("TOPIC_CARD_TRANSACTIONS", default="card-transactions")
TOPIC_CARD_TRANSACTIONS_ENRICHED = env(
    "TOPIC_CARD_TRANSACTIONS_ENRICHED", default="card-transactions-enriched"
)
TOPIC_LIST_MEMBERSHIPS = env("TOPIC_LIST_MEMBERSHIPS", default="list-memberships")
TOPIC_PARTITIONS = env.int("TOPIC_PARTITIONS", default=1)
# The (key, window) pairs whose counters the detection job keeps for counter rules
# (fraudsite/detection_counters.py): each is an operator of the job, so a change is a redeploy.
COUNTER_WINDOWS = env("COUNTER_WINDOWS", default="card:1h,card:24h,device:24h,merchant:10min")
# Milliseconds between the event-time clock's ticks to every card-transactions partition
# (transactions/clock.py): the bound on how long a verdict can wait for the job's watermark. Per
# deployment variant: the local job emits a watermark per record, so 20 ms bounds the wait;
# Confluent Cloud emits watermarks on its own schedule (about every 200 ms), so ticks faster than
# that only cost traffic there. A Schema Registry (SCHEMA_REGISTRY_URL) means the cloud variant.
EVENT_TIME_TICK_MS_BY_VARIANT = {"local": 20, "cloud": 500}
EVENT_TIME_TICK_MS = env.int("EVENT_TIME_TICK_MS",
                             default=EVENT_TIME_TICK_MS_BY_VARIANT["cloud" if SCHEMA_REGISTRY_URL else "local"])
# Whether each tick is a Kafka transaction of the deployment's transactional id (this prefix and the
# ticked topic), so that a newer clock fences an older one (docs/timing.md). Per variant: on by
# default on Confluent Cloud (a tick every 500 ms); off locally, where a transaction every 20 ms
# held every transaction behind an open tick from read_committed readers and cost Kafka a fifth of
# a core (docs/timing.md), and where `stack up` is the only starter (one per stack directory).
# A starting clock that sees another's ticks stops either way.
EVENT_CLOCK_TRANSACTIONAL = env.bool("EVENT_CLOCK_TRANSACTIONAL", default=bool(SCHEMA_REGISTRY_URL))
EVENT_CLOCK_TRANSACTIONAL_ID_PREFIX = env("EVENT_CLOCK_TRANSACTIONAL_ID_PREFIX", default="fraudsite-event-clock-")
# Confluent Cloud only: rely on its idle-partition forwarding (release notes, 2026-03-02: an idle
# partition forwards its latest event time) instead of the event clock, so `make cloud-up` starts
# no clock. Unsettled: whether it releases the last transaction with watermarks set by ALTER TABLE
# is what `make cloud-smoke` measures on a real account (docs/confluent-cloud.md). Off by default.
CLOUD_IDLE_PARTITION_FORWARDING = env.bool("CLOUD_IDLE_PARTITION_FORWARDING", default=False)
# How often the outbox publisher (manage.py publish_outbox) looks for records to send, and how
# long it keeps sent ones (the customers' publication state is read from them).
OUTBOX_POLL_SECONDS = env.float("OUTBOX_POLL_SECONDS", default=0.1)
OUTBOX_RETENTION_DAYS = env.int("OUTBOX_RETENTION_DAYS", default=7)
# The health endpoint and the operator page's badge report verdict lag past this many seconds.
VERDICT_LAG_ALERT_SECONDS = env.float("VERDICT_LAG_ALERT_SECONDS", default=5.0)
# The verdict workers' consumer group (consume_verdicts --group overrides it for one worker).
VERDICT_WORKER_GROUP = env("VERDICT_WORKER_GROUP", default="fraudsite-verdicts")
# How long an alert may wait in each open review status before it is overdue (the queue colours
# it and the team view lists it): from its arrival while undecided, from the decision that asked
# for a follow-up after that.
ALERT_DEADLINE_MINUTES = {
    "": env.int("ALERT_DEADLINE_OPEN_MINUTES", default=4 * 60),
    "needs_follow_up": env.int("ALERT_DEADLINE_FOLLOW_UP_MINUTES", default=24 * 60),
}
# Webhooks (manage.py deliver_webhooks): how often the deliverer looks for due deliveries, how
# long a receiver may take to answer, the back-off after a failed attempt (doubling from the first
# value up to the second), how long a delivery is retried before it is given up, and how many
# deliveries (each of a different customer or endpoint) are sent at once.
WEBHOOK_POLL_SECONDS = env.float("WEBHOOK_POLL_SECONDS", default=0.2)
WEBHOOK_TIMEOUT_SECONDS = env.float("WEBHOOK_TIMEOUT_SECONDS", default=10.0)
WEBHOOK_BACKOFF_SECONDS = env.float("WEBHOOK_BACKOFF_SECONDS", default=5.0)
WEBHOOK_BACKOFF_MAX_SECONDS = env.float("WEBHOOK_BACKOFF_MAX_SECONDS", default=15 * 60.0)
WEBHOOK_RETRY_HOURS = env.float("WEBHOOK_RETRY_HOURS", default=24.0)
WEBHOOK_CONCURRENCY = env.int("WEBHOOK_CONCURRENCY", default=8)
# Host names (as written in endpoint URLs) that webhooks may reach although they resolve to a
# private, loopback, link-local or reserved address: a receiver on the inside, named on purpose.
# Empty by default, so that an endpoint cannot reach this machine or its network (SSRF).
WEBHOOK_INTERNAL_HOSTS = [host.lower() for host in env.list("WEBHOOK_INTERNAL_HOSTS", default=[])]
# Confluent Cloud for Apache Flink's statement API, where proposals are replayed when the detection
# job runs there (fraudsite/flink_client.py). Empty: replays run on the local stack's Flink.
# `manage.py cloud_env` writes them from Terraform's outputs; the key is a secret, never logged.
CONFLUENT_FLINK_REST_ENDPOINT = env("CONFLUENT_FLINK_REST_ENDPOINT", default="")
CONFLUENT_ORGANIZATION_ID = env("CONFLUENT_ORGANIZATION_ID", default="")
CONFLUENT_ENVIRONMENT_ID = env("CONFLUENT_ENVIRONMENT_ID", default="")
CONFLUENT_FLINK_COMPUTE_POOL_ID = env("CONFLUENT_FLINK_COMPUTE_POOL_ID", default="")
CONFLUENT_FLINK_PRINCIPAL_ID = env("CONFLUENT_FLINK_PRINCIPAL_ID", default="")
CONFLUENT_FLINK_API_KEY = env("CONFLUENT_FLINK_API_KEY", default="")
CONFLUENT_FLINK_API_SECRET = env("CONFLUENT_FLINK_API_SECRET", default="")
CONFLUENT_FLINK_CATALOG = env("CONFLUENT_FLINK_CATALOG", default="")  # the environment's display name
CONFLUENT_FLINK_DATABASE = env("CONFLUENT_FLINK_DATABASE", default="")  # the Kafka cluster's display name
# Whether /health asks the local stack's Flink REST API about the detection job (off where the
# job runs elsewhere, e.g. Confluent Cloud).
HEALTH_CHECKS_FLINK = env.bool("HEALTH_CHECKS_FLINK", default=True)

# --- Production hardening (with DEBUG off and HTTPS_ONLY on) -------------------------------------
DEFAULT_EXCEPTION_REPORTER_FILTER = "fraudsite.security.CredentialsHidingFilter"
if not DEBUG and HTTPS_ONLY:
    SECURE_SSL_REDIRECT = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
elif LOCAL_ONLY:
    # Plain HTTP to this machine only (`make run`): `check --deploy`'s HTTPS checks do not apply.
    SILENCED_SYSTEM_CHECKS = ["security.W004", "security.W008", "security.W012", "security.W016"]

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    # During an outage: the first failure, then a line a minute with a count, and "again after N s"
    # (fraudsite/outages.py): librdkafka retries a broker every 50 ms and logs every attempt, per
    # client; psycopg's pool logs every attempt to reconnect to PostgreSQL.
    "filters": {"broker_outages": {"()": "fraudsite.outages.BrokerOutages"},
                "pool_outages": {"()": "fraudsite.outages.RepeatedLines"}},
    # channels_redis logs every message that a dead connection's full channel drops; django-axes
    # announces itself in every process (its lockouts are warnings, still shown).
    "loggers": {"channels_redis": {"level": "WARNING"}, "axes": {"level": "WARNING"},
                "fraudsite.librdkafka": {"filters": ["broker_outages"]},
                "psycopg.pool": {"filters": ["pool_outages"]}},
}
