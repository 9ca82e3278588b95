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

# Controls and the line/paragraph separators: the service refuses them.
_CONTROL = re.compile(r"[\u0000-\u001f\u007f-\u009f\u2028\u2029]")
# Default_Ignorable_Code_Point (Unicode DerivedCoreProperties) beyond the
# format characters (category Cf): drawn as nothing, so refused in names.
_IGNORABLE = re.compile(
    "[\u034f\u115f\u1160\u17b4\u17b5\u180b-\u180f\u3164\ufe00-\ufe0f\uffa0"
    "\ufff0-\ufff8\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0000-\U000e0fff]"
)
# Scripts that spell words with ZWNJ/ZWJ between letters (as the service allows).
_JOINING_SCRIPTS = (
    "ARABIC", "SYRIAC", "NKO", "MONGOLIAN", "ADLAM", "HANIFI ROHINGYA", "DEVANAGARI",
    "BENGALI", "GURMUKHI", "GUJARATI", "ORIYA", "TAMIL", "TELUGU", "KANNADA",
    "MALAYALAM", "SINHALA", "MYANMAR", "KHMER",
)


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
    """NFC, invisible characters dropped, trimmed, cut to ``max_chars`` code points.

    Follows the service's rule for names (docs/identity.md): format and other
    default-ignorable characters go, except ZWNJ/ZWJ inside words of scripts
    that need them, ZWJ inside emoji sequences and emoji presentation
    selectors after an emoji. Where in doubt it drops the character: a name
    shown slightly plainer beats a token the room refuses.
    """
    chars = list(unicodedata.normalize("NFC", _CONTROL.sub(" ", name)))
    kept = []
    for i, c in enumerate(chars):
        if unicodedata.category(c) == "Cf" or _IGNORABLE.match(c):
            before = kept[-1] if kept else ""
            after = chars[i + 1] if i + 1 < len(chars) else ""
            if not _allowed_in_context(c, before, after):
                continue
        kept.append(c)
    cut = "".join(kept).strip()[:max_chars].strip()
    # Cutting may leave a joiner or selector at the end, with nothing to join.
    while cut and not _allowed_in_context(cut[-1], cut[-2:-1], "") and (
        unicodedata.category(cut[-1]) == "Cf" or _IGNORABLE.match(cut[-1])
    ):
        cut = cut[:-1].rstrip()
    return cut


def _is_emoji(c: str) -> bool:
    return unicodedata.category(c) == "So" and ord(c) >= 0x2000


def _allowed_in_context(c: str, before: str, after: str) -> bool:
    if c in "\u200c\u200d" and before and after:
        skin_tone = "\U0001f3fb" <= before <= "\U0001f3ff"
        emoji_before = _is_emoji(before) or before == "\ufe0f" or skin_tone
        if c == "\u200d" and emoji_before and _is_emoji(after):
            return True
        return all(
            unicodedata.category(x)[0] in "LM"
            and unicodedata.name(x, "").startswith(_JOINING_SCRIPTS)
            for x in (before, after)
        )
    if c in "\ufe0e\ufe0f":
        return bool(before) and _is_emoji(before)
    return False


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
        "name": (clean_name(name) if name is not None else "") or display_name(user),
        "room": unicodedata.normalize("NFC", room),
        "iat": now,
        "exp": now + ttl,
    }
    return jwt.encode(claims, _secret(secret), algorithm="HS256")


def room_url(chat_url: str, room: str, token: Optional[str] = None) -> str:
    """The room page's address, with the token when there is one."""
    url = "{}/chat/{}/".format(chat_url.rstrip("/"), quote(room, safe=""))
    return url + ("?" + urlencode({"token": token}) if token else "")
