"""Message events on the Django side: each message stored once, in order."""

import hashlib
import hmac
import json
import time

from django.test import SimpleTestCase, TestCase, override_settings

from edge_chat.messages import chat_messages, new_messages
from edge_chat.webhooks import InvalidWebhook

SECRET = "webhook-secret"


def message_event(room, id, text, user="ada", member="42", **frame):
    """One event as the contract in docs/http-api.md shapes it."""
    data = dict({"type": "chat", "id": id, "message": text, "user": user, "ts": 1_764_000_000_000 + id}, **frame)
    if member is not None:
        data["memberId"] = member
    event = {"name": "client_event", "channel": room, "event": "message", "id": id, "data": json.dumps(data)}
    if member is not None:
        event["user_id"] = member
    return event


ADDED = {"name": "member_added", "channel": "lobby", "user_id": "42"}


class NewMessagesTests(SimpleTestCase):
    def test_messages_come_back_parsed_in_order_without_other_events(self):
        events = [ADDED, message_event("lobby", 1, "a", verified=True, clientId="c1"),
                  message_event("lobby", 2, "b", user="api", member=None)]
        got = chat_messages(events)
        self.assertEqual([(m.id, m.message, m.user) for m in got], [(1, "a", "ada"), (2, "b", "api")])
        self.assertEqual((got[0].member_id, got[0].verified, got[0].client_id), ("42", True, "c1"))
        self.assertEqual((got[1].member_id, got[1].verified, got[1].client_id), (None, False, None))

    def test_ids_already_seen_and_repeats_are_skipped(self):
        stored = {("lobby", 1)}
        events = [message_event("lobby", i, str(i)) for i in (1, 2, 3)] + [message_event("lobby", 2, "2")]
        got = new_messages(events, seen=lambda room, id: (room, id) in stored)
        self.assertEqual([m.id for m in got], [2, 3])

    def test_a_jump_in_ids_is_logged_as_a_gap(self):
        with self.assertLogs("edge_chat.messages", "WARNING") as logs:
            new_messages([message_event("lobby", 7, "x")], seen=lambda r, i: False, last_id=lambda r: 4)
        self.assertIn("messages 5 to 6 never arrived", logs.output[0])

    def test_a_malformed_message_event_is_refused(self):
        for bad in ({"name": "client_event", "event": "message", "channel": "x", "id": "1", "data": "{}"},
                    dict(message_event("x", 1, "a"), data="not json"),
                    dict(message_event("x", 1, "a"), data=json.dumps({"message": 1}))):
            with self.subTest(bad=bad), self.assertRaises(InvalidWebhook):
                chat_messages([bad])


def signed(events, secret=SECRET):
    body = json.dumps({"time_ms": int(time.time() * 1000), "events": events}).encode()
    return body, hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@override_settings(EDGE_CHAT_WEBHOOK_SECRET=SECRET, EDGE_CHAT_WEBHOOK_KEY="site-key")
class ExampleSavesEveryMessageTests(TestCase):
    def deliver(self, events):
        body, signature = signed(events)
        response = self.client.post(
            "/hooks/chat/", body, content_type="application/json",
            HTTP_X_PUSHER_SIGNATURE=signature, HTTP_X_PUSHER_KEY="site-key",
        )
        self.assertEqual(response.status_code, 204)

    def test_a_retried_delivery_stores_nothing_twice_and_order_follows_ids(self):
        from example.models import Message

        first = [ADDED, message_event("lobby", 1, "one"), message_event("lobby", 2, "two")]
        self.deliver(first)
        # The room did not hear our answer and sends the same batch again, then the next.
        self.deliver(first)
        self.deliver([message_event("lobby", 3, "three", user="api", member=None),
                      message_event("other", 1, "elsewhere")])
        rows = list(Message.objects.filter(room="lobby").values_list("message_id", "text", "user", "member_id"))
        self.assertEqual(rows, [(1, "one", "ada", "42"), (2, "two", "ada", "42"), (3, "three", "api", "")])
        self.assertEqual(Message.objects.filter(room="other").count(), 1)
