"""One settings module for every deployment, driven by the environment.

With no environment at all it runs embedded: SQLite under ``var/``, in-process channel layer,
Celery tasks executed in-process. Production (``TELERAD_ENV=production``) refuses to start
without its secrets instead of inventing them.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
from pathlib import Path
from typing import Any, cast

import environ
from django.core.exceptions import ImproperlyConfigured

from teleradiology import channel_layers
from teleradiology.filemodes import make_private_dir

BASE_DIR = Path(__file__).resolve().parent.parent
# The project's own templates, static files and translations live inside this package, so that a
# built wheel carries them as package data (an installed copy has no checkout around it).
PACKAGE_DIR = Path(__file__).resolve().parent
VAR_DIR = Path(environ.Env().str("TELERAD_VAR_DIR", default=str(BASE_DIR / "var")))

env = environ.Env()

TELERAD_ENV = env.str("TELERAD_ENV", default="embedded")
if TELERAD_ENV not in {"embedded", "production"}:
    raise ImproperlyConfigured(
        f"TELERAD_ENV must be 'embedded' or 'production', not {TELERAD_ENV!r}"
    )
PRODUCTION = TELERAD_ENV == "production"


def _embedded_secret_key() -> str:
    """A per-installation key kept in var/, so sessions survive restarts of the embedded system."""
    key_file = VAR_DIR / "secret_key"
    if key_file.exists():
        return key_file.read_text().strip()
    make_private_dir(VAR_DIR)
    key = secrets.token_urlsafe(50)
    key_file.write_text(key)
    key_file.chmod(0o600)
    return key


if PRODUCTION:
    for required in ("SECRET_KEY", "DATABASE_URL", "ALLOWED_HOSTS"):
        if not env.str(required, default=""):
            raise ImproperlyConfigured(f"{required} must be set when TELERAD_ENV=production")
    SECRET_KEY = env.str("SECRET_KEY")
else:
    SECRET_KEY = env.str("SECRET_KEY", default="") or _embedded_secret_key()

DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "channels",
    "worklists",
    "reports",
    "indicators",
    "quality",
    "hl7_interface",
    "dicom",
    "demo_ris",  # the test RIS: ris_simulator and the demo's RIS (no models)
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # The language of anonymous pages (login): the language cookie, then the browser's.
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # A signed-in user's pages speak the language they chose (worklists.locale).
    "worklists.locale.UserLanguageMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # A study withheld from its pages for now (a blind peer review) redirects to where it is read.
    "worklists.withheld.StudyWithheldMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "teleradiology.urls"
WSGI_APPLICATION = "teleradiology.wsgi.application"
ASGI_APPLICATION = "teleradiology.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [PACKAGE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.template.context_processors.tz",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "reports.context_processors.navigation",
                "worklists.console.context_processors.navigation",
                "indicators.context_processors.navigation",
            ],
        },
    },
]

# Database: PostgreSQL in production and CI, an SQLite file for the embedded system.
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'teleradiology.sqlite3'}")
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # IMMEDIATE transactions take the write lock up front, so concurrent writers queue instead
    # of failing with "database is locked" when a read lock is upgraded.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    if DATABASES["default"]["NAME"] != ":memory:":
        _sqlite_dir = Path(DATABASES["default"]["NAME"]).parent
        make_private_dir(_sqlite_dir)
        # The test database is a file too: Django's default, a shared-cache in-memory database,
        # fails at once with "database table is locked" (no busy timeout) when a browser test's
        # server threads read while another writes; a file in WAL mode waits its turn instead.
        # One per process, so two test runs in one checkout do not delete each other's.
        DATABASES["default"]["TEST"] = {
            "NAME": str(_sqlite_dir / f"test-teleradiology-{os.getpid()}.sqlite3")
        }
else:
    # Under ASGI each sync request runs in a thread of its own, and Django's connections belong to
    # threads: kept connections (CONN_MAX_AGE > 0) pile up until "too many clients". By default a
    # connection per request or thread (DATABASE_CONN_MAX_AGE=0). For the ASGI web server set
    # DATABASE_POOL_MAX_SIZE (e.g. 8): a psycopg pool per process lends a connection to a request
    # and takes it back at its end (processes x size below max_connections). Not for processes
    # whose threads hold a connection for their lifetime (listeners, workers): they would wait.
    _pool_max_size = env.int("DATABASE_POOL_MAX_SIZE", default=0)
    if _pool_max_size > 0:
        DATABASES["default"]["CONN_MAX_AGE"] = 0
        DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
            "min_size": min(_pool_max_size, env.int("DATABASE_POOL_MIN_SIZE", default=2)),
            "max_size": _pool_max_size,
            "timeout": env.float("DATABASE_POOL_TIMEOUT_SECONDS", default=10.0),
        }
    else:
        DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=0)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# The claim statement every "read next" runs is prepared on the server once per connection
# (parsing and planning it cost more than twice running it); turn off behind a
# pooler that cannot keep prepared statements (PgBouncer before 1.21). See worklists/prepared.py.
DATABASE_PREPARED_STATEMENTS = env.bool(
    "DATABASE_PREPARED_STATEMENTS", default=env.bool("ROUTING_CLAIM_PREPARED", default=True)
)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env.str("REDIS_URL", default="")

if REDIS_URL:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    }
    # channels-redis' core or PubSub layer, chosen by measurement (teleradiology/channel_layers.py).
    CHANNEL_LAYERS = channel_layers.redis_channel_layers(
        REDIS_URL,
        kind=env.str("CHANNEL_LAYER_KIND", default=channel_layers.DEFAULT_KIND),
        pool_size=env.int("REDIS_CHANNEL_POOL_SIZE", default=channel_layers.DEFAULT_POOL_SIZE),
    )
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# Live updates (worklists/live.py, docs/live-updates.md): committed study changes are collected
# for this many seconds and sent as one pass; 0 sends each from the committing thread.
LIVE_BATCH_SECONDS = env.float("LIVE_BATCH_SECONDS", default=0.05)
# A reconnecting page gets the ids of the studies changed since its last message when the gap is
# at most this long (and the ids at most LIVE_RESYNC_MAX_STUDIES); otherwise it refetches its lists.
LIVE_RESYNC_MAX_SECONDS = env.int("LIVE_RESYNC_MAX_SECONDS", default=900)
LIVE_RESYNC_MAX_STUDIES = env.int("LIVE_RESYNC_MAX_STUDIES", default=50)

# Celery: a Redis broker when there is one; otherwise tasks run in-process (embedded system).
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL or "memory://localhost/")
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=not REDIS_URL)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_TIMEZONE = "UTC"
# Periodic tasks, name -> {"task": dotted task name, "schedule": seconds}; each section below adds
# its own. Celery beat fires them in production; `manage.py serve` fires them in-process when
# embedded (teleradiology/embedded.py).
CELERY_BEAT_SCHEDULE: dict[str, dict[str, Any]] = {}
# Callables `(stop: threading.Event) -> None` that `manage.py serve` runs in daemon threads on the
# embedded default (receivers that are separate processes in production); sections below add theirs.
EMBEDDED_SERVICES: list[str] = []

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    # OWASP ASVS 2.1.1: at least 12 characters.
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "worklist"
LOGOUT_REDIRECT_URL = "login"

# The interface speaks Norwegian (bokmål) and English (docs/locale.md). A user's stored choice
# wins; a user who has not chosen, and anonymous pages without a cookie or a browser preference,
# get LANGUAGE_CODE. The demo's users are seeded with bokmål.
LANGUAGE_CODE = env.str("LANGUAGE_CODE", default="en")
LANGUAGES = [("nb", "Norsk bokmål"), ("en", "English")]
if LANGUAGE_CODE not in {code for code, _ in LANGUAGES}:
    raise ImproperlyConfigured(f"LANGUAGE_CODE must be one of nb, en, not {LANGUAGE_CODE!r}")
LOCALE_PATHS = [PACKAGE_DIR / "locale"]
# Dates and times read 24-hour dd.mm.yyyy HH:MM in both languages, pages and admin alike.
FORMAT_MODULE_PATH = ["teleradiology.formats"]
TIME_ZONE = "Europe/Oslo"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [PACKAGE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = not PRODUCTION

SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=12 * 3600)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "worklists.authentication.SiteTokenAuthentication",
        "worklists.authentication.PersonalTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "worklists.api_errors.api_exception_handler",
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Teleradiology worklist API",
    "DESCRIPTION": (
        "Pooled subspecialty worklists across sites: orders in from each site's RIS, studies "
        "routed to credentialed radiologists, signed reports back out."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Several components have a "status" field; the study's lifecycle gets the name.
    "ENUM_NAME_OVERRIDES": {
        "StudyStatusEnum": "worklists.models.studies.StudyStatus",
        "ReviewStatusEnum": "quality.models.ReviewStatus",
        "OutboundStatusEnum": "hl7_interface.models.OutboundStatus",
    },
}

# Product settings
STUDIES_PAGE_SIZE = env.int("STUDIES_PAGE_SIZE", default=50)
# Privacy page: a site user who opens more distinct patients than this in the chosen period is
# flagged for the privacy officer (docs/privacy.md).
PRIVACY_MANY_PATIENTS_THRESHOLD = env.int("PRIVACY_MANY_PATIENTS_THRESHOLD", default=50)
# Turnaround in minutes per priority, used when a site's contract does not name one.
DEFAULT_TURNAROUND_MINUTES = {
    "STAT": env.int("DEFAULT_TURNAROUND_STAT_MINUTES", default=60),
    "URGENT": env.int("DEFAULT_TURNAROUND_URGENT_MINUTES", default=6 * 60),
    "CANCER_PATHWAY": env.int("DEFAULT_TURNAROUND_CANCER_PATHWAY_MINUTES", default=48 * 60),
    "ROUTINE": env.int("DEFAULT_TURNAROUND_ROUTINE_MINUTES", default=7 * 24 * 60),
}
# "At risk" (amber): at most DEADLINE_RISK_MINUTES left whatever the turnaround, or at most
# DEADLINE_RISK_FRACTION of the turnaround left once no more than DEADLINE_RISK_SHARE_CAP_MINUTES
# remain: a STAT due in 45 minutes is at risk, a routine study due in 14 hours is not.
DEADLINE_RISK_FRACTION = env.float("DEADLINE_RISK_FRACTION", default=0.25)
DEADLINE_RISK_MINUTES = env.float("DEADLINE_RISK_MINUTES", default=60)
DEADLINE_RISK_SHARE_CAP_MINUTES = env.float("DEADLINE_RISK_SHARE_CAP_MINUTES", default=8 * 60)

# The coordinator's console (docs/console.md): the load board shows shifts starting within
# CONSOLE_NEXT_SHIFT_HOURS as "next"; the at-risk list shows the CONSOLE_AT_RISK_LIMIT most
# urgent studies; an alert is snoozed for at most CONSOLE_SNOOZE_MAX_HOURS.
CONSOLE_NEXT_SHIFT_HOURS = env.float("CONSOLE_NEXT_SHIFT_HOURS", default=12)
CONSOLE_AT_RISK_LIMIT = env.int("CONSOLE_AT_RISK_LIMIT", default=50)
CONSOLE_SNOOZE_MAX_HOURS = env.int("CONSOLE_SNOOZE_MAX_HOURS", default=24)
# The capacity outlook (docs/capacity-outlook.md): the expected inflow of an hour is the mean of
# the same weekday and hour over the last OUTLOOK_HISTORY_WEEKS weeks.
OUTLOOK_HISTORY_WEEKS = env.int("OUTLOOK_HISTORY_WEEKS", default=4)
# A surge (a coordinator widening a worklist's eligibility at once) runs at most this long; it
# stops widening at its end by itself, and the sweep records the end every
# CONSOLE_SURGE_SWEEP_SECONDS.
CONSOLE_SURGE_MAX_HOURS = env.int("CONSOLE_SURGE_MAX_HOURS", default=12)
CELERY_BEAT_SCHEDULE["console-surges-expire"] = {
    "task": "worklists.tasks.surges_expire",
    "schedule": env.float("CONSOLE_SURGE_SWEEP_SECONDS", default=60.0),
}

# Routing: shifts, coverage, push and pull, escalation
# A reader's pushed queue holds at most this many work units (STAT and critical studies excepted).
ROUTING_QUEUE_CAP_WORK_UNITS = env.float("ROUTING_QUEUE_CAP_WORK_UNITS", default=6.0)
# When a reader's queue has room, this many READY studies of their scope are routed at a time.
ROUTING_FILL_BATCH = env.int("ROUTING_FILL_BATCH", default=10)
# A claim expires when its holder has shown no activity (opening, draft autosave) for this long;
# the study returns to the pool and the draft stays.
ROUTING_CLAIM_IDLE_MINUTES = env.int("ROUTING_CLAIM_IDLE_MINUTES", default=20)
# A study pushed to a reader and not opened within this share of its turnaround (ready to
# deadline), and at least ROUTING_PUSH_UNOPENED_MIN_MINUTES, goes back to routing; never later
# than the coordinator alert point (ROUTING_ESCALATE_ALERT_AT) while the floor allows.
ROUTING_PUSH_UNOPENED_SHARE = env.float("ROUTING_PUSH_UNOPENED_SHARE", default=1 / 3)
ROUTING_PUSH_UNOPENED_MIN_MINUTES = env.float("ROUTING_PUSH_UNOPENED_MIN_MINUTES", default=5.0)
# A reader who has neither opened, autosaved, claimed nor signed in for this long (counted from
# the start of their shift at the earliest) receives no pushes until they act again; 0: off.
ROUTING_PUSH_IDLE_MINUTES = env.float("ROUTING_PUSH_IDLE_MINUTES", default=30.0)
# How long a process reuses a reader's "read next" scope (worklists and sites per tier); facts
# that change at any moment (shift, credential, competence, active) are checked on every claim.
ROUTING_SCOPE_CACHE_SECONDS = env.float("ROUTING_SCOPE_CACHE_SECONDS", default=30.0)
# Imported shifts: local times without a zone are in this zone; longer shifts are refused as typos.
ROUTING_SHIFT_TIME_ZONE = env.str("ROUTING_SHIFT_TIME_ZONE", default="Europe/Oslo")
ROUTING_MAX_SHIFT_HOURS = env.int("ROUTING_MAX_SHIFT_HOURS", default=26)
# Recurring shifts (iCalendar RRULE/RDATE) are imported as one shift per occurrence from the
# import on, this many days ahead (an open-ended roster has no last one); import again to extend.
ROUTING_SHIFT_RECURRENCE_DAYS = env.int("ROUTING_SHIFT_RECURRENCE_DAYS", default=92)
# Escalation tiers, by the share of a study's turnaround used with nobody reading it:
# backup readers, then every competent reader on shift, then a coordinator alert.
ROUTING_ESCALATE_BACKUP_AT = env.float("ROUTING_ESCALATE_BACKUP_AT", default=0.5)
ROUTING_ESCALATE_POOL_AT = env.float("ROUTING_ESCALATE_POOL_AT", default=0.75)
ROUTING_ESCALATE_ALERT_AT = env.float("ROUTING_ESCALATE_ALERT_AT", default=0.9)
# Age bump: every this many minutes a study has waited READY, it moves one step up the reading
# order (never to the top step, which is STAT and critical findings).
ROUTING_MAX_WAIT_MINUTES = env.int("ROUTING_MAX_WAIT_MINUTES", default=24 * 60)
# AI findings at or above this confidence, with a critical code, put a study at the top.
ROUTING_AI_CRITICAL_CODES = env.list(
    "ROUTING_AI_CRITICAL_CODES", default=["ICH", "LVO", "PTX", "PE", "FREE_AIR"]
)
ROUTING_AI_MIN_CONFIDENCE = env.float("ROUTING_AI_MIN_CONFIDENCE", default=0.5)
CELERY_BEAT_SCHEDULE["routing-escalate"] = {
    "task": "worklists.tasks.routing_escalate",
    "schedule": env.float("ROUTING_ESCALATE_EVERY_SECONDS", default=60.0),
}
CELERY_BEAT_SCHEDULE["routing-expire-claims"] = {
    "task": "worklists.tasks.claims_expire",
    "schedule": env.float("ROUTING_EXPIRE_EVERY_SECONDS", default=60.0),
}
CELERY_BEAT_SCHEDULE["routing-return-unopened"] = {
    "task": "worklists.tasks.pushes_return_unopened",
    "schedule": env.float("ROUTING_RETURN_UNOPENED_EVERY_SECONDS", default=60.0),
}
CELERY_BEAT_SCHEDULE["routing-shift-starts"] = {
    "task": "worklists.tasks.shifts_start_due",
    "schedule": env.float("ROUTING_SHIFT_STARTS_EVERY_SECONDS", default=60.0),
}

# HL7 interface: MLLP listener and outbound delivery
HL7_LISTENER_HOST = env.str("HL7_LISTENER_HOST", default="127.0.0.1")
HL7_LISTENER_PORT = env.int("HL7_LISTENER_PORT", default=2575)
HL7_MAX_FRAME_BYTES = env.int("HL7_MAX_FRAME_BYTES", default=1024 * 1024)
HL7_IDLE_TIMEOUT_SECONDS = env.float("HL7_IDLE_TIMEOUT_SECONDS", default=300.0)
# Threads applying messages (each with its own database connection); one connection's messages
# are applied in the order they arrive.
HL7_WORKERS = env.int("HL7_WORKERS", default=8)
# Most messages a worker applies in one transaction (group commit of the frames waiting).
HL7_BATCH_MAX = env.int("HL7_BATCH_MAX", default=64)
# How long a worker waits for frames that connections sending right now are about to send.
HL7_BATCH_WINDOW_SECONDS = env.float("HL7_BATCH_WINDOW_SECONDS", default=0.002)
HL7_SITE_CACHE_SECONDS = env.float("HL7_SITE_CACHE_SECONDS", default=30.0)
# The listener process binds parameters server-side on PostgreSQL (no quoting into SQL text).
HL7_LISTENER_SERVER_SIDE_BINDING = env.bool("HL7_LISTENER_SERVER_SIDE_BINDING", default=True)
HL7_SENDING_APPLICATION = env.str("HL7_SENDING_APPLICATION", default="TELERAD")
HL7_SENDING_FACILITY = env.str("HL7_SENDING_FACILITY", default="TELERAD")
HL7_CONNECT_TIMEOUT_SECONDS = env.float("HL7_CONNECT_TIMEOUT_SECONDS", default=10.0)
HL7_ACK_TIMEOUT_SECONDS = env.float("HL7_ACK_TIMEOUT_SECONDS", default=30.0)
# Delivery retries: base * 2**(attempt-1), capped, with jitter; dead-lettered after the last.
HL7_RETRY_BASE_SECONDS = env.float("HL7_RETRY_BASE_SECONDS", default=30.0)
HL7_RETRY_MAX_SECONDS = env.float("HL7_RETRY_MAX_SECONDS", default=3600.0)
HL7_MAX_ATTEMPTS = env.int("HL7_MAX_ATTEMPTS", default=12)
HL7_DRAIN_BATCH = env.int("HL7_DRAIN_BATCH", default=200)
HL7_DRAIN_INTERVAL_SECONDS = env.float("HL7_DRAIN_INTERVAL_SECONDS", default=10.0)
CELERY_BEAT_SCHEDULE["hl7-outbox-drain"] = {
    "task": "hl7_interface.tasks.outbox_drain",
    "schedule": HL7_DRAIN_INTERVAL_SECONDS,
}
EMBEDDED_SERVICES.append("hl7_interface.listener.run_embedded")

# Reading and reporting
# A critical finding with no communication recorded after this many minutes goes to coordinators.
REPORTS_CRITICAL_COMMUNICATION_MINUTES = env.int(
    "REPORTS_CRITICAL_COMMUNICATION_MINUTES", default=30
)
if REPORTS_CRITICAL_COMMUNICATION_MINUTES < 1:
    raise ImproperlyConfigured("REPORTS_CRITICAL_COMMUNICATION_MINUTES must be at least 1")
# This many wrong signing passwords within the lockout minutes lock that user's signing.
REPORTS_SIGN_MAX_FAILURES = env.int("REPORTS_SIGN_MAX_FAILURES", default=5)
REPORTS_SIGN_LOCKOUT_MINUTES = env.int("REPORTS_SIGN_LOCKOUT_MINUTES", default=15)
# The report editor saves the draft this long after the last keystroke.
REPORTS_AUTOSAVE_DELAY_MS = env.int("REPORTS_AUTOSAVE_DELAY_MS", default=1200)
CELERY_BEAT_SCHEDULE["reports-escalate-critical-findings"] = {
    "task": "reports.tasks.escalate_critical_findings",
    "schedule": env.float("REPORTS_ESCALATION_INTERVAL_SECONDS", default=60.0),
}

# DICOM receiver
# The AE title sites' PACS call; each site's own calling AE title is Site.dicom_ae_title.
DICOM_AE_TITLE = env.str("DICOM_AE_TITLE", default="TELERAD")
DICOM_PORT = env.int("DICOM_PORT", default=11112)
# Listen on every interface in production (PACS are on the network; unknown callers are refused);
# on the embedded default only on this machine.
DICOM_BIND_ADDRESS = env.str(
    "DICOM_BIND_ADDRESS",
    default="0.0.0.0" if PRODUCTION else "127.0.0.1",  # noqa: S104
)
# A study's images are complete after this many seconds without a new instance.
DICOM_QUIET_SECONDS = env.int("DICOM_QUIET_SECONDS", default=90)
# Unset: metadata only. Set: every instance is also written to <dir>/<study>/<series>/<sop>.dcm.
DICOM_STORAGE_DIR = env.str("DICOM_STORAGE_DIR", default="")
CELERY_BEAT_SCHEDULE["dicom-complete-quiet-studies"] = {
    "task": "dicom.tasks.complete_quiet_studies",
    "schedule": 15.0,
}
EMBEDDED_SERVICES.append("dicom.scp.run_embedded")

# The demo's test RIS (demo_ris.embedded): on the embedded default `manage.py serve` runs one that
# takes the demo sites' results and acknowledges them, so a signed demo report is delivered.
# Port 0: any free port (the demo sites are pointed at the one it got).
DEMO_RIS_ENABLED = env.bool("DEMO_RIS_ENABLED", default=TELERAD_ENV == "embedded")
DEMO_RIS_HOST = env.str("DEMO_RIS_HOST", default="127.0.0.1")
DEMO_RIS_PORT = env.int("DEMO_RIS_PORT", default=0)
if DEMO_RIS_ENABLED:
    EMBEDDED_SERVICES.append("demo_ris.embedded.run_embedded")

# Listener security (HL7/MLLP and DICOM): who may send, TLS, and limits against floods.
# Operators' guide: docs/security-listeners.md.
# Outside the embedded demo a site sends only from the addresses its HL7 configuration and DICOM
# settings list; a site without any cannot send (refused, and reported by `manage.py check`).
LISTENER_REQUIRE_ALLOWED_ADDRESSES = TELERAD_ENV != "embedded"
# TLS: a certificate and key turn it on for that listener; a client CA also requires every
# client to present a certificate it signed (mutual TLS).
HL7_TLS_CERT_FILE = env.str("HL7_TLS_CERT_FILE", default="")
HL7_TLS_KEY_FILE = env.str("HL7_TLS_KEY_FILE", default="")
HL7_TLS_CLIENT_CA_FILE = env.str("HL7_TLS_CLIENT_CA_FILE", default="")
DICOM_TLS_CERT_FILE = env.str("DICOM_TLS_CERT_FILE", default="")
DICOM_TLS_KEY_FILE = env.str("DICOM_TLS_KEY_FILE", default="")
DICOM_TLS_CLIENT_CA_FILE = env.str("DICOM_TLS_CLIENT_CA_FILE", default="")
# A TLS client that has not finished its handshake by then is disconnected.
LISTENER_TLS_HANDSHAKE_TIMEOUT_SECONDS = env.float(
    "LISTENER_TLS_HANDSHAKE_TIMEOUT_SECONDS", default=10.0
)
# A frame from an unknown sender (no site, or not from the site's addresses) is answered AR and
# only its first bytes are kept.
HL7_UNKNOWN_SENDER_KEEP_BYTES = env.int("HL7_UNKNOWN_SENDER_KEEP_BYTES", default=2048)
# Open MLLP connections from one address; more are closed at once.
HL7_MAX_CONNECTIONS_PER_ADDRESS = env.int("HL7_MAX_CONNECTIONS_PER_ADDRESS", default=32)
# Bytes of unfinished frames held for one connection (a longer frame is refused with its head
# kept: HL7_MAX_FRAME_BYTES) and for all connections together: the connection whose bytes pass
# the total is closed.
HL7_MAX_UNFINISHED_BYTES_TOTAL = env.int("HL7_MAX_UNFINISHED_BYTES_TOTAL", default=64 * 1024 * 1024)
# DICOM: associations at once (pynetdicom counts a connection from its first byte), connections
# at once from one address, and how long a connection may take to ask for an association
# (pynetdicom's ACSE/ARTIM timeout) and stay silent within one (its network timeout).
DICOM_MAX_ASSOCIATIONS = env.int("DICOM_MAX_ASSOCIATIONS", default=50)
DICOM_MAX_ASSOCIATIONS_PER_ADDRESS = env.int("DICOM_MAX_ASSOCIATIONS_PER_ADDRESS", default=8)
DICOM_ACSE_TIMEOUT_SECONDS = env.float("DICOM_ACSE_TIMEOUT_SECONDS", default=10.0)
DICOM_NETWORK_TIMEOUT_SECONDS = env.float("DICOM_NETWORK_TIMEOUT_SECONDS", default=300.0)
# A refused instance keeps its first DICOM_FAILED_INSTANCE_HEAD_BYTES and its reason; its whole
# bytes only when it is smaller than DICOM_FAILED_INSTANCE_KEEP_WHOLE_BYTES.
DICOM_FAILED_INSTANCE_HEAD_BYTES = env.int("DICOM_FAILED_INSTANCE_HEAD_BYTES", default=64 * 1024)
DICOM_FAILED_INSTANCE_KEEP_WHOLE_BYTES = env.int(
    "DICOM_FAILED_INSTANCE_KEEP_WHOLE_BYTES", default=4 * 1024 * 1024
)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # One line per broadcast task buries everything else; failures still log.
        "celery.app.trace": {"level": "WARNING"},
        # pynetdicom logs every PDU at INFO: lines per instance; our receiver logs what matters.
        "pynetdicom": {"level": env.str("PYNETDICOM_LOG_LEVEL", default="WARNING")},
    },
}

# Sign-in, tokens and deployment security (docs/security.md). Apps, middleware and logging
# filters are added here, in one block, in the order they must run.
# Proxies (CIDR list) whose X-Forwarded-For is believed; from any other peer the header is ignored
# and the peer itself is the client (lock-outs, audit trail: teleradiology/client_address.py).
TRUSTED_PROXIES = env.list("TRUSTED_PROXIES", default=[])
INSTALLED_APPS += [
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "csp",
    "drf_spectacular_sidecar",
]
MIDDLEWARE.insert(
    MIDDLEWARE.index("django.contrib.auth.middleware.AuthenticationMiddleware") + 1,
    "django_otp.middleware.OTPMiddleware",
)
MIDDLEWARE.insert(
    MIDDLEWARE.index("django_otp.middleware.OTPMiddleware") + 1,
    "worklists.signin.SecondFactorMiddleware",
)
MIDDLEWARE.insert(
    MIDDLEWARE.index("whitenoise.middleware.WhiteNoiseMiddleware") + 1,
    "teleradiology.middleware.NoStoreMiddleware",
)
MIDDLEWARE.insert(
    MIDDLEWARE.index("django.middleware.security.SecurityMiddleware") + 1,
    "csp.middleware.CSPMiddleware",
)
MIDDLEWARE.append("axes.middleware.AxesMiddleware")  # last: it turns a lock-out into its answer
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # first: refuses a locked-out account or address
    "django.contrib.auth.backends.ModelBackend",
]
# Lock-out (django-axes): this many failed sign-ins (login page, admin, POST /api/v1/auth/token)
# for one username, or from one client address, lock that username or address for the minutes.
AXES_FAILURE_LIMIT = env.int("SIGNIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = dt.timedelta(minutes=env.int("SIGNIN_LOCKOUT_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_CLIENT_IP_CALLABLE = "teleradiology.client_address.client_address"
AXES_LOCKOUT_CALLABLE = "worklists.signin.lockout_response"
AXES_HTTP_RESPONSE_CODE = 429
AXES_VERBOSE = False
# A second factor (TOTP with recovery codes) for coordinators, radiologists and staff; off on the
# embedded demo unless asked for.
SIGNIN_SECOND_FACTOR_REQUIRED = env.bool("SIGNIN_SECOND_FACTOR_REQUIRED", default=PRODUCTION)
OTP_TOTP_ISSUER = env.str("OTP_TOTP_ISSUER", default="Teleradiologi")
SIGNIN_RECOVERY_CODES = 10
# Personal API tokens expire this many days after they are issued.
PERSONAL_TOKEN_LIFETIME_DAYS = env.int("PERSONAL_TOKEN_LIFETIME_DAYS", default=30)
# After `manage.py site_token SITE --rotate` the previous token works this many hours more.
SITE_TOKEN_ROTATION_OVERLAP_HOURS = env.float("SITE_TOKEN_ROTATION_OVERLAP_HOURS", default=24.0)
# Transport: HTTPS only in production (the TLS proxy must set X-Forwarded-Proto itself, never
# pass on a client's); /healthz stays reachable over plain HTTP for the load balancer.
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=PRODUCTION)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=365 * 24 * 3600 if PRODUCTION else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=PRODUCTION)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=PRODUCTION)
if env.bool("SECURE_PROXY_SSL_HEADER", default=bool(TRUSTED_PROXIES)):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = PRODUCTION
CSRF_COOKIE_SECURE = PRODUCTION
# Content-Security-Policy: scripts only from the platform's own files (no inline script, no CDN).
# Inline styles stay allowed: the admin's change lists and Swagger UI use them.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "font-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}
SPECTACULAR_SETTINGS |= {
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}
# Query strings (an admin search for a national number) never reach the access logs.
LOGGING["filters"] = {"redact_query": {"()": "teleradiology.logging_filters.RedactQueryStrings"}}
_loggers = cast(dict[str, Any], LOGGING["loggers"])
for _access_logger in ("uvicorn.access", "django.server", "django.request"):
    # Propagate to the root handler: django.setup() may run after uvicorn set up its loggers.
    _loggers[_access_logger] = {"filters": ["redact_query"], "propagate": True}

# Indicators: each closed day's turnaround is counted once (docs/indicators.md, "Closed days
# kept"); a day changed since is counted again on the next run.
CELERY_BEAT_SCHEDULE["indicators-keep-closed-days"] = {
    "task": "indicators.tasks.keep_closed_days_task",
    "schedule": env.float("INDICATORS_KEEP_DAYS_EVERY_SECONDS", default=3600.0),
}

# Peer review (quality): reviews waiting for a reviewer are routed again as readers become
# eligible (a credential begins, a competence is added).
CELERY_BEAT_SCHEDULE["quality-route-waiting-reviews"] = {
    "task": "quality.tasks.reviews_route_waiting_task",
    "schedule": env.float("QUALITY_ROUTE_WAITING_EVERY_SECONDS", default=300.0),
}
