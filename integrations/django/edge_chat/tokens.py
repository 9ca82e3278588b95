"""Join tokens for Django users: HS256 JWTs signed with JOIN_SECRET.

A page that opens ``<CHAT_URL>/chat/<room>/?token=<token>`` joins as the
user the token names; ``private-`` rooms admit nobody else.
"""

from __future__ import annotations

import os
import re
import time
import unicodedata
from typing import Any, Optional
from urllib.parse import quote, urlencode

import jwt

#: The room page passes the same token on every reconnect, so the expiry
#: bounds how long an open page can come back after a network drop; a reload
#: of the view that minted it gets a fresh one.
DEFAULT_TTL_SECONDS = 60 * 60
#: The server's default MAX_NAME_CHARS.
MAX_NAME_CHARS = 32

# Controls, line/paragraph separators and format characters (zero-width,
# bidi overrides): the service refuses names containing them.
_INVISIBLE = re.compile(r"[\u0000-\u001f\u007f-\u009f\u2028\u2029]")


def _secret(secret: Optional[str]) -> str:
    if secret:
        return secret
    from django.conf import settings

    value = getattr(settings, "EDGE_CHAT_JOIN_SECRET", None) or os.environ.get("JOIN_SECRET")
    if not value:
        raise ValueError(
            "no join secret: set JOIN_SECRET in the environment (the chat "
            "service's JOIN_SECRET) or settings.EDGE_CHAT_JOIN_SECRET"
        )
    return value


def display_name(user: Any, max_chars: int = MAX_NAME_CHARS) -> str:
    """A name the service accepts: full name or username, cleaned and shortened."""
    full = user.get_full_name() if hasattr(user, "get_full_name") else ""
    name = full.strip() or user.get_username()
    return clean_name(name, max_chars) or "member"


def clean_name(name: str, max_chars: int = MAX_NAME_CHARS) -> str:
    """NFC, invisible characters dropped, trimmed, cut to ``max_chars`` code points."""
    name = unicodedata.normalize("NFC", name)
    name = "".join(
        c for c in _INVISIBLE.sub(" ", name) if unicodedata.category(c) != "Cf"
    ).strip()
    return name[:max_chars].strip()


def mint_join_token(
    user: Any,
    room: str,
    *,
    name: Optional[str] = None,
    ttl: int = DEFAULT_TTL_SECONDS,
    secret: Optional[str] = None,
) -> str:
    """A join token for ``user`` (sub = ``user.pk``) valid in ``room`` only.

    ``name`` is what the room shows (default: the user's full name, else
    username). ``secret`` defaults to settings.EDGE_CHAT_JOIN_SECRET, then
    the JOIN_SECRET environment variable.
    """
    if getattr(user, "is_anonymous", False) or getattr(user, "pk", None) is None:
        raise ValueError("join tokens are for logged-in users: use login_required on the view")
    if not room or room == "*":
        raise ValueError("a join token needs one concrete room name, not %r" % room)
    now = int(time.time())
    claims = {
        "sub": str(user.pk),
        "name": clean_name(name) if name is not None else display_name(user),
        "room": unicodedata.normalize("NFC", room),
        "iat": now,
        "exp": now + ttl,
    }
    return jwt.encode(claims, _secret(secret), algorithm="HS256")


def room_url(chat_url: str, room: str, token: Optional[str] = None) -> str:
    """The room page's address, with the token when there is one."""
    url = "{}/chat/{}/".format(chat_url.rstrip("/"), quote(room, safe=""))
    return url + ("?" + urlencode({"token": token}) if token else "")
