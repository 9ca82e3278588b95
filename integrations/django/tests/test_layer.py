"""EdgeChannelLayer against a scripted service: request shape, retries, refusals."""

import socket

from asgiref.sync import async_to_sync
from django.test import SimpleTestCase

from edge_chat.layers import EdgeChannelLayer, EdgeChatError, EdgeUnsupported

from .fake_service import FakeService

CREATED = (201, {}, {"id": 1, "delivered": 0})


class LayerTestCase(SimpleTestCase):
    def service(self, *script):
        fake = FakeService(list(script))
        self.addCleanup(fake.close)
        return fake

    def layer(self, url, **config):
        layer = EdgeChannelLayer(url=url, token="sekrit", **config)
        self.waits = []
        layer.client.sleep = self.waits.append
        return layer


class GroupSendTests(LayerTestCase):
    def test_posts_the_tutorial_message_into_the_room_named_by_the_group(self):
        fake = self.service(CREATED)
        layer = self.layer(fake.url)
        async_to_sync(layer.group_send)(
            "chat_lobby", {"type": "chat.message", "message": "hello", "user": "ada"}
        )
        [sent] = fake.requests
        self.assertEqual(sent["path"], "/api/rooms/lobby/messages")
        self.assertEqual(sent["headers"]["Authorization"], "Bearer sekrit")
        self.assertEqual(sent["body"], {"messages": [{"message": "hello", "user": "ada"}]})
        self.assertRegex(sent["headers"]["Idempotency-Key"], r"^[0-9a-f-]{36}$")

    def test_each_call_has_its_own_idempotency_key(self):
        fake = self.service(CREATED, CREATED)
        layer = self.layer(fake.url)
        for _ in range(2):
            async_to_sync(layer.group_send)("chat_lobby", {"type": "chat.message", "message": "x"})
        keys = {r["headers"]["Idempotency-Key"] for r in fake.requests}
        self.assertEqual(len(keys), 2)
        self.assertEqual(fake.requests[0]["body"], {"messages": [{"message": "x"}]})

    def test_group_names_without_the_prefix_are_rooms_as_they_are(self):
        fake = self.service(CREATED)
        async_to_sync(self.layer(fake.url).group_send)("news.today", {"message": "x"})
        self.assertEqual(fake.requests[0]["path"], "/api/rooms/news.today/messages")

    def test_room_for_group_replaces_the_prefix_rule(self):
        fake = self.service(CREATED, CREATED)
        layer = self.layer(fake.url, room_for_group=lambda group: "private-" + group.upper())
        async_to_sync(layer.group_send)("chat_lobby", {"message": "x"})
        layer = self.layer(fake.url, room_for_group="tests.test_layer.reverse_room")
        async_to_sync(layer.group_send)("chat_lobby", {"message": "x"})
        self.assertEqual(
            [r["path"] for r in fake.requests],
            ["/api/rooms/private-CHAT_LOBBY/messages", "/api/rooms/ybbol_tahc/messages"],
        )

    def test_url_and_token_default_to_the_environment(self):
        fake = self.service(CREATED)
        with self.modify_env(CHAT_URL=fake.url + "/", BROADCAST_TOKEN="from-env"):
            layer = EdgeChannelLayer()
        async_to_sync(layer.group_send)("chat_lobby", {"message": "x"})
        self.assertEqual(fake.requests[0]["headers"]["Authorization"], "Bearer from-env")

    def modify_env(self, **values):
        from unittest import mock
        import os

        return mock.patch.dict(os.environ, values)

    def test_a_message_without_text_is_refused_before_any_request(self):
        fake = self.service()
        layer = self.layer(fake.url)
        for message in ({"type": "chat.message"}, {"message": 5}, "hi", {"message": "x", "user": 3}):
            with self.assertRaisesMessage(TypeError, "group_send"):
                async_to_sync(layer.group_send)("chat_lobby", message)
        with self.assertRaises(TypeError):
            async_to_sync(layer.group_send)("chat lobby!", {"message": "x"})
        self.assertEqual(fake.requests, [])

    def test_missing_configuration_says_which_variable_to_set(self):
        with self.modify_env(CHAT_URL="", BROADCAST_TOKEN=""):
            layer = EdgeChannelLayer()
        with self.assertRaisesMessage(EdgeChatError, "CHAT_URL"):
            async_to_sync(layer.group_send)("chat_lobby", {"message": "x"})


def reverse_room(group):
    return group[::-1]


class RetryTests(LayerTestCase):
    def test_transient_failures_are_retried_under_the_same_key_with_growing_backoff(self):
        fake = self.service(
            (504, {}, {"error": "timeout"}),
            (502, {}, {"error": "bad gateway"}),
            (500, {}, {"error": "oops"}),
            CREATED,
        )
        layer = self.layer(fake.url)
        async_to_sync(layer.group_send)("chat_lobby", {"message": "once"})
        self.assertEqual(len(fake.requests), 4)
        self.assertEqual(len({r["headers"]["Idempotency-Key"] for r in fake.requests}), 1)
        # 0.25 s doubling, each with jitter between half and all of it.
        for attempt, wait in enumerate(self.waits):
            self.assertGreaterEqual(wait, 0.25 * 2**attempt / 2)
            self.assertLessEqual(wait, 0.25 * 2**attempt)

    def test_429_waits_as_long_as_retry_after_says(self):
        fake = self.service((429, {"Retry-After": "3"}, {"error": "slow down"}), CREATED)
        async_to_sync(self.layer(fake.url).group_send)("chat_lobby", {"message": "x"})
        self.assertEqual(self.waits, [3.0])
        self.assertEqual(len(fake.requests), 2)

    def test_refusals_are_not_retried_and_carry_the_services_reason(self):
        fake = self.service((400, {}, {"error": "message is longer than 2000 characters"}))
        with self.assertRaisesMessage(EdgeChatError, "message is longer than 2000 characters") as caught:
            async_to_sync(self.layer(fake.url).group_send)("chat_lobby", {"message": "x"})
        self.assertEqual(caught.exception.status, 400)
        self.assertEqual(len(fake.requests), 1)

    def test_503_is_retried_only_when_it_says_when_to_come_back(self):
        fake = self.service((503, {"Retry-After": "1"}, {"error": "busy"}), CREATED)
        async_to_sync(self.layer(fake.url).group_send)("chat_lobby", {"message": "x"})
        self.assertEqual(self.waits, [1.0])
        unconfigured = "the inject API is disabled: BROADCAST_TOKEN is not configured on the server"
        fake = self.service((503, {}, {"error": unconfigured}))
        with self.assertRaisesMessage(EdgeChatError, unconfigured):
            async_to_sync(self.layer(fake.url).group_send)("chat_lobby", {"message": "x"})
        self.assertEqual(len(fake.requests), 1)

    def test_gives_up_after_the_configured_retries(self):
        fake = self.service(*[(502, {}, {"error": "down"})] * 3)
        layer = self.layer(fake.url, retries=2)
        with self.assertRaisesMessage(EdgeChatError, "502"):
            async_to_sync(layer.group_send)("chat_lobby", {"message": "x"})
        self.assertEqual(len(fake.requests), 3)
        self.assertEqual(len(self.waits), 2)

    def test_an_unreachable_service_is_retried_then_reported(self):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]  # closed again: nothing listens there
        layer = self.layer("http://127.0.0.1:%d" % port, retries=3)
        with self.assertRaisesMessage(EdgeChatError, "unreachable after 4 attempts"):
            async_to_sync(layer.group_send)("chat_lobby", {"message": "x"})
        self.assertEqual(len(self.waits), 3)


class UnsupportedTests(SimpleTestCase):
    def test_consumer_operations_say_why_and_what_to_do_instead(self):
        layer = EdgeChannelLayer(url="http://127.0.0.1:1", token="t")
        cases = [
            (layer.send, ("specific.abc", {"type": "x"}), "group_send"),
            (layer.receive, ("specific.abc",), "webhook"),
            (layer.new_channel, (), "/ws/chat/"),
            (layer.group_add, ("chat_lobby", "specific.abc"), "/ws/chat/"),
            (layer.group_discard, ("chat_lobby", "specific.abc"), "members"),
        ]
        for method, args, advice in cases:
            with self.subTest(method.__name__):
                with self.assertRaises(EdgeUnsupported) as caught:
                    async_to_sync(method)(*args)
                self.assertIn("edge", str(caught.exception))
                self.assertIn(advice, str(caught.exception))
                self.assertIsInstance(caught.exception, NotImplementedError)

    def test_the_layer_declares_groups_only(self):
        self.assertEqual(EdgeChannelLayer.extensions, ["groups"])
