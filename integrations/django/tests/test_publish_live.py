"""The example's publish hook, live, asked by a real room (`npm run test:django`).

`npm run test:django` points the chat service's PUBLISH_HOOK_URL at this
server's port (DJANGO_LIVE_PORT) with its default failure policy ("closed")
and gives both sides WEBHOOK_KEY and WEBHOOK_SECRET. Members are the
standard-library WebSocket client in tests/ws_client.py, as a browser would be.
"""

import os
import uuid

from django.contrib.auth.models import User
from django.test import LiveServerTestCase

from edge_chat.tokens import mint_join_token

from .live_server import SamePortLiveServerThread
from .test_edge_room import connect


def chat(frame):
    return frame.get("type") == "chat"


def error(frame):
    return frame.get("type") == "error"


class PublishHookLiveTests(LiveServerTestCase):
    host = "127.0.0.1"
    server_thread_class = SamePortLiveServerThread
    port = int(os.environ.get("DJANGO_LIVE_PORT", "0"))

    def setUp(self):
        if not self.port:
            raise AssertionError("DJANGO_LIVE_PORT is not set: run with `npm run test:django`")

    def join(self, room, query="rich=1"):
        ws = connect(room, query)
        self.addCleanup(ws.close)
        ws.wait_for(lambda f: f.get("type") == "welcome", "welcome frame")
        return ws

    def test_the_profanity_filter_rewrites_the_message_for_everyone(self):
        room = "django-hook-%s" % uuid.uuid4().hex[:12]
        ada, bob = self.join(room, "rich=1&name=ada"), self.join(room, "rich=1&name=bob")
        ada.send_json({"message": "darn this wifi", "clientId": "c1"})
        seen_by_bob = bob.wait_for(chat, "the filtered message")
        receipt = ada.wait_for(chat, "the sender's own copy")
        self.assertEqual(seen_by_bob["message"], "**** this wifi")
        self.assertEqual((receipt["message"], receipt["clientId"]), ("**** this wifi", "c1"))

    def test_help_is_answered_to_the_sender_alone(self):
        room = "django-hook-%s" % uuid.uuid4().hex[:12]
        ada, bob = self.join(room), self.join(room)
        ada.send_json({"message": "/help", "clientId": "h1"})
        answer = ada.wait_for(error, "the reply")
        self.assertEqual((answer["code"], answer["clientId"]), ("refused", "h1"))
        self.assertIn("/help", answer["message"])
        ada.send_json({"message": "after help"})
        # Bob's first chat frame is the next message: /help never reached him.
        self.assertEqual(bob.wait_for(chat, "the next message")["message"], "after help")

    def test_in_a_staff_room_a_guest_is_refused_and_a_signed_in_staff_member_speaks(self):
        room = "staff-%s" % uuid.uuid4().hex[:12]
        grace = User.objects.create_user("grace", is_staff=True)
        staff = self.join(room, "rich=1&token=" + mint_join_token(grace, room))
        guest = self.join(room, "rich=1&name=grace")
        guest.send_json({"message": "let me in"})
        refusal = guest.wait_for(error, "the refusal")
        self.assertEqual(refusal["code"], "refused")
        self.assertEqual(refusal["message"], "Only staff may speak in this room.")
        staff.send_json({"message": "standup in 5"})
        self.assertEqual(guest.wait_for(chat, "the staff message")["message"], "standup in 5")
