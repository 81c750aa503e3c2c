"""Django settings of the station console. Environment, not files, says what differs:

LOA_SCHEDULE            the station's schedule (set by `loa serve SCHEDULE.yaml`)
LOA_DATA_DIR            where loa keeps its data (the console's SQLite and secret key too)
LOA_CONSOLE_DB          another SQLite file for the console's tables
LOA_ALLOWED_HOSTS       comma-separated host names (default: any; the console serves a LAN)
LOA_HTTPS=1             behind a TLS proxy (Caddy/nginx): secure cookies; `loa serve` trusts
                        X-Forwarded-Proto/-For from LOA_TRUSTED_PROXY (default 127.0.0.1)
LOA_CSRF_ORIGINS        comma-separated extra origins such as https://loa.xa-ba-vi.vn (only
                        needed when the proxy is another machine or rewrites the host)
LOA_DEBUG=1             Django's debug pages (never on a station)
LOA_DATABASE_URL        postgresql://user:pw@host:port/db (or ?host=/socket/dir): the server
                        role (a province or a large commune) on PostgreSQL; unset: SQLite
LOA_MQTT_URL            mqtt://user:pw@host:port: the broker the server pushes emergencies on
"""

from __future__ import annotations

import os
import secrets
import tempfile
from pathlib import Path

from loa.console.dburl import database_from_url
from loa.settings import data_dir

BASE_DIR = Path(__file__).resolve().parent
DATA_DIR = data_dir()


def _secret_key() -> str:
    """One random key per installation, kept beside the data (mode 0600)."""
    path = DATA_DIR / "console-secret.txt"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        key = secrets.token_urlsafe(50)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(key)
        return key
    except OSError:
        return secrets.token_urlsafe(50)  # read-only data dir: sessions end at restart


def _list(name: str) -> list[str]:
    return [x.strip() for x in os.environ.get(name, "").split(",") if x.strip()]


SECRET_KEY = _secret_key()
DEBUG = os.environ.get("LOA_DEBUG") == "1"
ALLOWED_HOSTS = _list("LOA_ALLOWED_HOSTS") or ["*"]
LOA_SCHEDULE = os.environ.get("LOA_SCHEDULE", "")
LOA_CLOCK = None  # tests put a Clock here; None: the wall clock in the station's zone

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "loa.console.accounts",
    "loa.console.pages",
    "loa.console.fleet",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # every page needs a login unless its view says @login_not_required
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "loa.console.nocache.no_store",
    "loa.console.nocache.station_paths",
    "loa.console.nocache.no_schedule",
]
ROOT_URLCONF = "loa.console.urls"
WSGI_APPLICATION = "loa.console.wsgi.application"
TEMPLATES = [{
    "BACKEND": "django.template.backends.django.DjangoTemplates",
    "DIRS": [],
    "APP_DIRS": True,
    "OPTIONS": {"context_processors": [
        "django.template.context_processors.request",
        "django.contrib.auth.context_processors.auth",
        "django.contrib.messages.context_processors.messages",
        "loa.console.accounts.roles.context",
        "loa.console.station.context",
    ]},
}]
_SQLITE = {
    "ENGINE": "django.db.backends.sqlite3",
    "NAME": os.environ.get("LOA_CONSOLE_DB") or str(DATA_DIR / "console.sqlite3"),
    # a daemon and the console may both be busy: wait for the lock instead of failing
    "OPTIONS": {"timeout": 20, "init_command": "PRAGMA journal_mode=WAL;"},
    # tests too on a file, as in production: Django's default in-memory shared-cache test
    # database fails two concurrent writers at once ("table is locked") instead of waiting
    "TEST": {"NAME": str(Path(tempfile.gettempdir()) / f"loa-console-test-{os.getpid()}.sqlite3")},
}


LOA_DATABASE_URL = os.environ.get("LOA_DATABASE_URL", "")
DATABASES = {"default": database_from_url(LOA_DATABASE_URL) if LOA_DATABASE_URL else _SQLITE}
LOA_MQTT_URL = os.environ.get("LOA_MQTT_URL", "")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Argon2 first (memory-hard, at OWASP's minimum so a Pi survives logins at once);
# PBKDF2 stays readable for hashes made before.
PASSWORD_HASHERS = [
    "loa.console.accounts.passwords.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "loa.console.accounts.passwords.MinimumLengthValidator",
     "OPTIONS": {"min_length": 8}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "overview"
LOGOUT_REDIRECT_URL = "login"
# Wrong passwords allowed per account (and per address) in the window, then a wait.
LOGIN_FAILURES_ALLOWED = 5
LOGIN_FAILURE_WINDOW_S = 15 * 60

SESSION_COOKIE_AGE = 12 * 3600  # a working day; then log in again
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_NAME = "loa_phien"
CSRF_COOKIE_HTTPONLY = True
CSRF_COOKIE_SAMESITE = "Strict"
CSRF_FAILURE_VIEW = "loa.console.pages.views.errors.csrf_failure"
CSRF_TRUSTED_ORIGINS = _list("LOA_CSRF_ORIGINS")
if os.environ.get("LOA_HTTPS") == "1":
    SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# Uploads: plans up to 20 MB (checked in the view, with a Vietnamese message); anything
# bigger than 2.5 MB goes to a temporary file, not memory.
PLAN_MAX_BYTES = 20 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
DATA_UPLOAD_MAX_NUMBER_FIELDS = 2000

LANGUAGE_CODE = "vi"
USE_I18N = True
USE_TZ = True
TIME_ZONE = "Asia/Ho_Chi_Minh"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"django": {"handlers": ["console"], "level": "WARNING"}},
}
