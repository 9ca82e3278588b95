"""The Django side of webhooks: signature, key and freshness, as Pusher defines them."""

import hashlib
import hmac
import json
import time

from django.test import SimpleTestCase, override_settings

from edge_chat.webhooks import InvalidWebhook, verify_webhook

SECRET = "webhook-secret"


def signed(payload, secret=SECRET):
    body = json.dumps(payload).encode()
    return body, hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def fresh(events):
    return {"time_ms": int(time.time() * 1000), "events": events}


OCCUPIED = {"name": "channel_occupied", "channel": "lobby"}
ADDED = {"name": "member_added", "channel": "lobby", "user_id": "42"}


class VerifyTests(SimpleTestCase):
    def test_a_signed_fresh_webhook_gives_its_events(self):
        body, signature = signed(fresh([OCCUPIED, ADDED]))
        verified = verify_webhook(body, signature, secret=SECRET)
        self.assertEqual(verified["events"], [OCCUPIED, ADDED])

    def test_a_body_changed_after_signing_is_refused(self):
        body, signature = signed(fresh([ADDED]))
        forged = body.replace(b'"42"', b'"43"')
        with self.assertRaisesMessage(InvalidWebhook, "X-Pusher-Signature"):
            verify_webhook(forged, signature, secret=SECRET)

    def test_another_secret_or_no_signature_is_refused(self):
        body, signature = signed(fresh([ADDED]), secret="not-ours")
        for sig in (signature, None, "", "zz"):
            with self.subTest(sig=sig), self.assertRaises(InvalidWebhook):
                verify_webhook(body, sig, secret=SECRET)

    def test_stale_and_future_time_ms_are_refused_as_replays(self):
        now = time.time()
        for offset in (-7 * 60, 7 * 60):
            body, signature = signed({"time_ms": int((now + offset) * 1000), "events": [ADDED]})
            with self.subTest(offset=offset), self.assertRaisesMessage(InvalidWebhook, "replay"):
                verify_webhook(body, signature, secret=SECRET, now=now)
        body, signature = signed({"time_ms": int((now - 60) * 1000), "events": [ADDED]})
        self.assertEqual(verify_webhook(body, signature, secret=SECRET, now=now)["events"], [ADDED])

    def test_the_key_must_match_when_one_is_expected(self):
        body, signature = signed(fresh([ADDED]))
        verify_webhook(body, signature, secret=SECRET, key="site", expected_key="site")
        with self.assertRaisesMessage(InvalidWebhook, "X-Pusher-Key"):
            verify_webhook(body, signature, secret=SECRET, key="other", expected_key="site")

    def test_signed_bodies_of_the_wrong_shape_are_refused(self):
        for payload in ([], {"events": []}, {"time_ms": "1", "events": []},
                        {"time_ms": int(time.time() * 1000), "events": [{"channel": "x"}]}):
            body, signature = signed(payload)
            with self.subTest(payload=payload), self.assertRaises(InvalidWebhook):
                verify_webhook(body, signature, secret=SECRET)


@override_settings(EDGE_CHAT_WEBHOOK_SECRET=SECRET, EDGE_CHAT_WEBHOOK_KEY="site-key")
class WebhookViewTests(SimpleTestCase):
    def post(self, body, signature, key="site-key"):
        return self.client.post(
            "/hooks/chat/", body, content_type="application/json",
            HTTP_X_PUSHER_SIGNATURE=signature, HTTP_X_PUSHER_KEY=key,
        )

    def test_the_example_view_tracks_who_is_in_which_room(self):
        from example.views import OCCUPANCY

        OCCUPANCY.clear()
        body, signature = signed(fresh([OCCUPIED, ADDED, dict(ADDED, user_id="7")]))
        self.assertEqual(self.post(body, signature).status_code, 204)
        self.assertEqual(OCCUPANCY, {"lobby": {"42", "7"}})
        removed = {"name": "member_removed", "channel": "lobby", "user_id": "42"}
        body, signature = signed(fresh([removed]))
        self.post(body, signature)
        self.assertEqual(OCCUPANCY, {"lobby": {"7"}})

    def test_a_forged_webhook_gets_401_and_changes_nothing(self):
        from example.views import OCCUPANCY

        OCCUPANCY.clear()
        body, _ = signed(fresh([ADDED]))
        response = self.post(body, "0" * 64)
        self.assertEqual(response.status_code, 401)
        self.assertIn("X-Pusher-Signature", response.json()["error"])
        body, signature = signed(fresh([ADDED]))
        self.assertEqual(self.post(body, signature, key="other").status_code, 401)
        self.assertEqual(OCCUPANCY, {})

    def test_only_post_is_accepted(self):
        self.assertEqual(self.client.get("/hooks/chat/").status_code, 405)
