"""The publish hook's Django side: the signed call, the decorator, the answers, the example view."""

import hashlib
import hmac
import json
import time

from django.contrib.auth.models import User
from django.test import SimpleTestCase, TestCase, override_settings

from edge_chat.hooks import Publish, allow, deny, publish_hook, replace, verify_publish
from edge_chat.webhooks import InvalidWebhook

SECRET = "webhook-secret"


def call(message="hello", room="lobby", member=None, **extra):
    """A hook call as the rooms send it (docs/http-api.md)."""
    return dict(
        {
            "time_ms": int(time.time() * 1000),
            "room": room,
            "member": member or {"id": "g1", "name": "ada", "verified": False},
            "message": message,
        },
        **extra,
    )


def signed(payload, secret=SECRET):
    body = json.dumps(payload).encode()
    return body, hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class VerifyPublishTests(SimpleTestCase):
    def test_a_signed_fresh_call_gives_room_member_text_and_client_id(self):
        body, signature = signed(call("hi", clientId="c1"))
        publish = verify_publish(body, signature, secret=SECRET)
        self.assertIsInstance(publish, Publish)
        self.assertEqual(publish.room, "lobby")
        self.assertEqual((publish.member.id, publish.member.name, publish.member.verified), ("g1", "ada", False))
        self.assertEqual((publish.message, publish.client_id), ("hi", "c1"))

    def test_a_call_changed_after_signing_or_signed_with_another_secret_is_refused(self):
        body, signature = signed(call("hi"))
        with self.assertRaisesMessage(InvalidWebhook, "X-Pusher-Signature"):
            verify_publish(body.replace(b'"hi"', b'"ho"'), signature, secret=SECRET)
        body, signature = signed(call("hi"), secret="not-ours")
        with self.assertRaises(InvalidWebhook):
            verify_publish(body, signature, secret=SECRET)

    def test_a_call_older_than_a_minute_is_refused_as_a_replay(self):
        now = time.time()
        body, signature = signed(call(time_ms=int((now - 90) * 1000)))
        with self.assertRaisesMessage(InvalidWebhook, "replay"):
            verify_publish(body, signature, secret=SECRET, now=now)

    def test_a_signed_webhook_body_is_not_a_publish_call(self):
        body, signature = signed({"time_ms": int(time.time() * 1000), "events": []})
        with self.assertRaisesMessage(InvalidWebhook, "publish hook call"):
            verify_publish(body, signature, secret=SECRET)

    def test_a_member_without_id_name_or_verified_is_refused(self):
        for member in ({"id": "1", "name": "a"}, {"id": 1, "name": "a", "verified": True}, "ada"):
            body, signature = signed(call(member=member))
            with self.subTest(member=member), self.assertRaisesMessage(InvalidWebhook, "member"):
                verify_publish(body, signature, secret=SECRET)


class AnswerTests(SimpleTestCase):
    def test_the_answers_are_the_documented_json(self):
        self.assertEqual(json.loads(allow().content), {"action": "allow"})
        self.assertEqual(json.loads(deny("no").content), {"action": "deny", "reason": "no"})
        self.assertEqual(
            json.loads(replace(message="x", user="y").content),
            {"action": "replace", "message": "x", "user": "y"},
        )
        self.assertEqual(json.loads(replace(user="y").content), {"action": "replace", "user": "y"})

    def test_replace_without_anything_to_replace_says_to_allow_instead(self):
        with self.assertRaisesMessage(TypeError, "allow()"):
            replace()


@publish_hook(secret=SECRET, key="site")
def echo_view(request, publish):
    return replace(message=publish.message.upper())


@publish_hook(secret=SECRET, key="site")
def forgetful_view(request, publish):
    return None


class DecoratorTests(SimpleTestCase):
    def post(self, view, body, signature, key="site"):
        from django.test import RequestFactory

        request = RequestFactory().post(
            "/hook/", body, content_type="application/json",
            HTTP_X_PUSHER_SIGNATURE=signature, HTTP_X_PUSHER_KEY=key,
        )
        return view(request)

    def test_the_view_gets_the_verified_call_and_its_answer_goes_back(self):
        body, signature = signed(call("hi"))
        response = self.post(echo_view, body, signature)
        self.assertEqual(response.status_code, 200)
        self.assertEqual(json.loads(response.content), {"action": "replace", "message": "HI"})

    def test_a_forged_call_or_another_key_gets_401_without_calling_the_view(self):
        body, _ = signed(call("hi"))
        response = self.post(echo_view, body, "0" * 64)
        self.assertEqual(response.status_code, 401)
        self.assertIn("X-Pusher-Signature", json.loads(response.content)["error"])
        body, signature = signed(call("hi"))
        self.assertEqual(self.post(echo_view, body, signature, key="other").status_code, 401)

    def test_a_view_that_returns_no_verdict_is_an_error(self):
        body, signature = signed(call("hi"))
        with self.assertRaisesMessage(TypeError, "must return allow(), deny(reason) or replace("):
            self.post(forgetful_view, body, signature)

    def test_only_post_is_accepted(self):
        from django.test import RequestFactory

        self.assertEqual(echo_view(RequestFactory().get("/hook/")).status_code, 405)


@override_settings(EDGE_CHAT_WEBHOOK_SECRET=SECRET, EDGE_CHAT_WEBHOOK_KEY="site-key")
class ExampleHookTests(TestCase):
    def ask(self, payload):
        body, signature = signed(payload)
        response = self.client.post(
            "/hooks/publish/", body, content_type="application/json",
            HTTP_X_PUSHER_SIGNATURE=signature, HTTP_X_PUSHER_KEY="site-key",
        )
        self.assertEqual(response.status_code, 200, response.content)
        return response.json()

    def test_the_profanity_filter_replaces_blocked_words_only(self):
        self.assertEqual(
            self.ask(call("Darn, that heckler is frakking late")),
            {"action": "replace", "message": "****, that heckler is frakking late"},
        )
        self.assertEqual(self.ask(call("oh heck")), {"action": "replace", "message": "oh ****"})
        self.assertEqual(self.ask(call("hello")), {"action": "allow"})

    def test_help_is_answered_to_the_sender_alone(self):
        answer = self.ask(call(" /help "))
        self.assertEqual(answer["action"], "deny")
        self.assertIn("/help", answer["reason"])

    def test_only_verified_staff_speak_in_staff_rooms(self):
        staff = User.objects.create_user("grace", is_staff=True)
        user = User.objects.create_user("alan")
        as_member = lambda u, verified=True: {"id": str(u.pk), "name": u.username, "verified": verified}
        self.assertEqual(self.ask(call("hi", room="staff-ops", member=as_member(staff))), {"action": "allow"})
        for member in (as_member(user), as_member(staff, verified=False)):
            with self.subTest(member=member):
                answer = self.ask(call("hi", room="staff-ops", member=member))
                self.assertEqual(answer, {"action": "deny", "reason": "Only staff may speak in this room."})
