"""The smallest Django project the tests need; the chat service comes from the environment."""

SECRET_KEY = "tests-only-not-secret"
DEBUG = False
USE_TZ = True
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "channels",
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
ROOT_URLCONF = "example.urls"
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
ALLOWED_HOSTS = ["testserver"]
# LiveServerTestCase serves static files from STATIC_URL and fails without one.
STATIC_URL = "/static/"

# Exactly what the docs tell a site to write: url and token from CHAT_URL
# and BROADCAST_TOKEN in the environment.
CHANNEL_LAYERS = {"default": {"BACKEND": "edge_chat.layers.EdgeChannelLayer"}}
