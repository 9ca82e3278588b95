"""A runnable example site: log in through the admin, then open /chat/<room>/.

    cd integrations/django
    export CHAT_URL=http://localhost:8787 BROADCAST_TOKEN=... JOIN_SECRET=...
    python3 manage.py migrate && python3 manage.py createsuperuser
    python3 manage.py runserver 8000

Not for production: DEBUG and a fixed SECRET_KEY.
"""

from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
SECRET_KEY = "example-only-not-secret"
DEBUG = True
ALLOWED_HOSTS = ["localhost", "127.0.0.1"]
USE_TZ = True
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    # The example's own models (example/models.py: every message, saved once).
    "example",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]
DATABASES = {
    "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": BASE_DIR / "example.sqlite3"}
}
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
ROOT_URLCONF = "example.urls"
STATIC_URL = "/static/"
LOGIN_URL = "/admin/login/"

# The only Channels setting: url and token come from CHAT_URL and BROADCAST_TOKEN.
CHANNEL_LAYERS = {"default": {"BACKEND": "edge_chat.layers.EdgeChannelLayer"}}
