"""Join tokens minted for Django users, checked with PyJWT the way the rooms check them."""

import time

import jwt
from django.contrib.auth.models import AnonymousUser, User
from django.test import TestCase, override_settings

from edge_chat.tokens import mint_join_token, room_url

SECRET = "join-secret"


@override_settings(EDGE_CHAT_JOIN_SECRET=SECRET)
class MintTests(TestCase):
    def decode(self, token):
        return jwt.decode(token, SECRET, algorithms=["HS256"])

    def test_the_token_names_the_user_by_pk_and_one_room_and_expires_soon(self):
        user = User.objects.create_user("ada", first_name="Ada", last_name="Lovelace")
        claims = self.decode(mint_join_token(user, "private-board"))
        self.assertEqual(claims["sub"], str(user.pk))
        self.assertEqual(claims["name"], "Ada Lovelace")
        self.assertEqual(claims["room"], "private-board")
        self.assertLessEqual(claims["exp"] - time.time(), 3600)
        self.assertGreater(claims["exp"] - time.time(), 3500)

    def test_names_fit_the_services_rules(self):
        user = User.objects.create_user("u" * 40)
        self.assertEqual(self.decode(mint_join_token(user, "r"))["name"], "u" * 32)
        user = User.objects.create_user("bob", first_name="Bo\u202eb\u200b\n")
        self.assertEqual(self.decode(mint_join_token(user, "r"))["name"], "Bob")
        claims = self.decode(mint_join_token(user, "r", name="  Captain  ", ttl=60))
        self.assertEqual(claims["name"], "Captain")
        self.assertLessEqual(claims["exp"] - claims["iat"], 60)

    def test_anonymous_users_and_wildcard_rooms_get_no_token(self):
        with self.assertRaisesMessage(ValueError, "login_required"):
            mint_join_token(AnonymousUser(), "r")
        user = User.objects.create_user("ada")
        with self.assertRaisesMessage(ValueError, "concrete room"):
            mint_join_token(user, "*")

    @override_settings(EDGE_CHAT_JOIN_SECRET=None)
    def test_without_a_secret_the_error_says_where_to_set_it(self):
        from unittest import mock
        import os

        user = User.objects.create_user("ada")
        with mock.patch.dict(os.environ, {"JOIN_SECRET": ""}):
            with self.assertRaisesMessage(ValueError, "JOIN_SECRET"):
                mint_join_token(user, "r")

    def test_room_url_escapes_the_room_and_carries_the_token(self):
        self.assertEqual(
            room_url("http://h:1/", "private-ü b", "t.k"),
            "http://h:1/chat/private-%C3%BC%20b/?token=t.k",
        )
