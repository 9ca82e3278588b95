"""The example site's settings, with a throwaway database; the chat service comes from the environment."""

from example.settings import *  # noqa: F401,F403 - the site under test, as it ships

DEBUG = False
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
ALLOWED_HOSTS = ["testserver", "127.0.0.1"]

# CHANNEL_LAYERS is the example's, i.e. exactly what the docs tell a site to
# write: url and token from CHAT_URL and BROADCAST_TOKEN in the environment.
