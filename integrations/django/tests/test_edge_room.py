"""Against a real chat service (`npm run test:django` starts one with `npm run dev`).

The project's settings are the docs' settings; the chat service's address
and secrets come from CHAT_URL, BROADCAST_TOKEN and JOIN_SECRET.
"""

import os
import time
import uuid
from urllib.parse import parse_qs, urlsplit

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.contrib.auth.models import User
from django.test import LiveServerTestCase, SimpleTestCase, TestCase

from edge_chat.layers import EdgeChatError
from edge_chat.tokens import clean_name, mint_join_token

from .live_server import SamePortLiveServerThread
from .ws_client import HandshakeRefused, WebSocketClient


def chat_url():
    url = os.environ.get("CHAT_URL")
    if not url:
        raise AssertionError(
            "CHAT_URL is not set: run these tests with `npm run test:django`, "
            "which starts the chat service and sets CHAT_URL, BROADCAST_TOKEN and JOIN_SECRET"
        )
    return url


def connect(room, query="rich=1"):
    base = chat_url().replace("http://", "ws://").replace("https://", "wss://")
    client = WebSocketClient("%s/ws/chat/%s/?%s" % (base, room, query))
    return client


def is_chat(text):
    return lambda f: f.get("type") == "chat" and f.get("message") == text


class TutorialGroupSendTests(SimpleTestCase):
    def setUp(self):
        self.room = "django-%s" % uuid.uuid4().hex[:12]
        self.ws = connect(self.room)
        self.addCleanup(self.ws.close)
        self.ws.wait_for(lambda f: f.get("type") == "welcome", "welcome frame")

    def test_group_send_from_sync_code_reaches_the_room(self):
        channel_layer = get_channel_layer()
        async_to_sync(channel_layer.group_send)(
            "chat_%s" % self.room, {"type": "chat.message", "message": "from a view"}
        )
        frame = self.ws.wait_for(is_chat("from a view"), "the message from sync code")
        self.assertEqual(frame["user"], "api")

    async def test_group_send_from_async_code_reaches_the_room(self):
        channel_layer = get_channel_layer()
        await channel_layer.group_send(
            "chat_%s" % self.room,
            {"type": "chat.message", "message": "from async code", "user": "celery"},
        )
        frame = self.ws.wait_for(is_chat("from async code"), "the message from async code")
        self.assertEqual(frame["user"], "celery")


    def test_a_message_the_room_refuses_raises_with_the_reason_and_reaches_nobody(self):
        channel_layer = get_channel_layer()
        with self.assertRaises(EdgeChatError) as caught:
            async_to_sync(channel_layer.group_send)(
                "chat_%s" % self.room, {"type": "chat.message", "message": "x" * 2001}
            )
        self.assertEqual(caught.exception.status, 400)
        self.assertIn("2000", str(caught.exception))
        async_to_sync(channel_layer.group_send)(
            "chat_%s" % self.room, {"type": "chat.message", "message": "after"}
        )
        self.ws.wait_for(is_chat("after"), "the next message")
        self.assertEqual([f["message"] for f in self.ws.frames if f.get("type") == "chat"], ["after"])


class PrivateRoomTests(TestCase):
    def setUp(self):
        self.room = "private-%s" % uuid.uuid4().hex[:12]
        self.user = User.objects.create_user("grace", first_name="Grace", last_name="Hopper")

    def test_a_minted_token_opens_a_private_room_under_the_users_id_and_name(self):
        ws = connect(self.room, "rich=1&token=" + mint_join_token(self.user, self.room))
        self.addCleanup(ws.close)
        welcome = ws.wait_for(lambda f: f.get("type") == "welcome", "welcome frame")
        self.assertEqual(
            welcome["you"], {"id": str(self.user.pk), "name": "Grace Hopper", "verified": True}
        )

    def test_every_name_the_helper_produces_is_one_the_room_accepts(self):
        # Names a stranger might give themselves: invisible characters, bidi
        # tricks, joiners real scripts and emoji need, too long, decomposed.
        names = [
            "Bob\u200b", "A\u202eB", "\U0001f469\u200d\U0001f4bb Dev", "a\ufe0fb",
            "\u3164filler", "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645",
            "\u0915\u094d\u200d\u0937", "\u2764\ufe0f fan", "tag\U000e0041", "x" * 40,
            "\u00adsoft", "Zoe\u0308", "y" * 31 + "\u200d\u200d", "\u200b\u200b",
        ]
        for name in names:
            with self.subTest(name=name):
                token = mint_join_token(self.user, self.room, name=name)
                ws = connect(self.room, "rich=1&token=" + token)
                try:
                    welcome = ws.wait_for(lambda f: f.get("type") == "welcome", "welcome frame")
                finally:
                    ws.close()
                self.assertEqual(welcome["you"]["name"], clean_name(name) or "Grace Hopper")
                self.assertTrue(welcome["you"]["name"])

    def test_without_a_token_or_with_another_rooms_token_the_room_stays_shut(self):
        with self.assertRaises(HandshakeRefused) as caught:
            connect(self.room)
        self.assertEqual(caught.exception.status, 401)
        other = mint_join_token(self.user, "private-elsewhere")
        with self.assertRaises(HandshakeRefused) as caught:
            connect(self.room, "token=" + other)
        self.assertEqual(caught.exception.status, 403)

    def test_the_example_view_sends_a_logged_in_user_to_the_room_page_with_a_token(self):
        self.client.force_login(self.user)
        response = self.client.get("/chat/%s/" % self.room)
        self.assertEqual(response.status_code, 302)
        target = urlsplit(response["Location"])
        self.assertEqual(target.path, "/chat/%s/" % self.room)
        [token] = parse_qs(target.query)["token"]
        ws = connect(self.room, "rich=1&token=" + token)
        self.addCleanup(ws.close)
        welcome = ws.wait_for(lambda f: f.get("type") == "welcome", "welcome frame")
        self.assertEqual(welcome["you"]["id"], str(self.user.pk))

    def test_logged_out_visitors_are_sent_to_log_in(self):
        response = self.client.get("/chat/%s/" % self.room)
        self.assertEqual(response.status_code, 302)
        self.assertTrue(response["Location"].startswith(settings.LOGIN_URL))

    def test_a_message_announced_by_a_view_reaches_the_private_room(self):
        ws = connect(self.room, "rich=1&token=" + mint_join_token(self.user, self.room))
        self.addCleanup(ws.close)
        self.client.force_login(self.user)
        response = self.client.post("/chat/%s/announce/" % self.room, {"message": "meeting at 3"})
        self.assertEqual(response.status_code, 204)
        frame = ws.wait_for(is_chat("meeting at 3"), "the announcement")
        self.assertEqual(frame["user"], "grace")


class WebhookTests(LiveServerTestCase):
    """The example site's webhook view, live, receiving the rooms' webhooks.

    `npm run test:django` points the chat service's WEBHOOK_URL at this
    server's port (DJANGO_LIVE_PORT) and gives both sides WEBHOOK_KEY and
    WEBHOOK_SECRET.
    """

    host = "127.0.0.1"
    port = int(os.environ.get("DJANGO_LIVE_PORT", "0"))
    server_thread_class = SamePortLiveServerThread

    def wait_until(self, what, check, timeout=20.0):
        deadline = time.monotonic() + timeout
        while not check():
            if time.monotonic() > deadline:
                raise AssertionError("timed out waiting for " + what)
            time.sleep(0.05)

    def test_the_site_learns_who_is_in_a_room_from_signed_webhooks(self):
        from example.views import OCCUPANCY

        if not self.port:
            raise AssertionError("DJANGO_LIVE_PORT is not set: run with `npm run test:django`")
        user = User.objects.create_user("ada")
        room = "private-%s" % uuid.uuid4().hex[:12]
        ws = connect(room, "token=" + mint_join_token(user, room))
        try:
            self.wait_until("member_added", lambda: OCCUPANCY.get(room) == {str(user.pk)})
        finally:
            ws.close()
        # After the leave's grace period: member_removed, then channel_vacated.
        self.wait_until("channel_vacated", lambda: room not in OCCUPANCY)
