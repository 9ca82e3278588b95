"""The live server the chat service's webhooks and publish hook reach (DJANGO_LIVE_PORT)."""

from django.core.servers.basehttp import ThreadedWSGIServer
from django.test.testcases import LiveServerThread, QuietWSGIRequestHandler


class SamePortLiveServerThread(LiveServerThread):
    """Binds DJANGO_LIVE_PORT again right after another live test class let
    it go (its connections from the chat service may linger in TIME_WAIT)."""

    def _create_server(self, *args, **kwargs):
        return ThreadedWSGIServer(
            (self.host, self.port), QuietWSGIRequestHandler, allow_reuse_address=True
        )
