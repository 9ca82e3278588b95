"""Receiving the rooms' webhooks: the same format and signature as Pusher's.

Each POST carries ``{"time_ms": <int>, "events": [...]}`` with
``X-Pusher-Key`` and ``X-Pusher-Signature`` (hex HMAC-SHA256 of the raw body
keyed with WEBHOOK_SECRET). Events: ``channel_occupied``/``channel_vacated``
with ``channel``; ``member_added``/``member_removed`` with ``channel`` and
``user_id`` (the join token's ``sub``, or the connection id of a guest).
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import os
import time
from typing import Any, Callable, Optional

#: How old (or how far ahead, for clock drift) ``time_ms`` may be: Pusher's
#: own libraries allow 300 s. The rooms set ``time_ms`` at every attempt, so
#: retries and backlogs are fresh when they arrive.
DEFAULT_MAX_AGE_SECONDS = 5 * 60

EVENT_NAMES = frozenset({"channel_occupied", "channel_vacated", "member_added", "member_removed"})


class InvalidWebhook(ValueError):
    """A webhook that must be refused; the message says why."""


def verify_webhook(
    body: bytes,
    signature: Optional[str],
    *,
    secret: str,
    key: Optional[str] = None,
    expected_key: Optional[str] = None,
    max_age: float = DEFAULT_MAX_AGE_SECONDS,
    now: Optional[float] = None,
) -> dict[str, Any]:
    """Checks signature, key and freshness; returns ``{"time_ms", "events"}``.

    Raises ``InvalidWebhook`` for a missing or wrong signature, another
    key, a stale or future ``time_ms``, or a body of the wrong shape.
    """
    payload = signed_json(
        body, signature, secret=secret, key=key, expected_key=expected_key, max_age=max_age, now=now
    )
    time_ms, events = payload["time_ms"], payload.get("events")
    if not isinstance(events, list) or not all(
        isinstance(e, dict) and isinstance(e.get("name"), str) for e in events
    ):
        raise InvalidWebhook('body needs "events": a list of objects with a "name"')
    return {"time_ms": time_ms, "events": events}


def signed_json(
    body: bytes,
    signature: Optional[str],
    *,
    secret: str,
    key: Optional[str],
    expected_key: Optional[str],
    max_age: float,
    now: Optional[float],
) -> dict[str, Any]:
    """The checks every signed call from the rooms gets: signature, key, a
    JSON object with a fresh integer ``time_ms``. Raises ``InvalidWebhook``."""
    if not secret:
        raise InvalidWebhook("no webhook secret configured: set WEBHOOK_SECRET")
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    if not signature or not hmac.compare_digest(expected, signature.strip().lower()):
        raise InvalidWebhook("bad or missing X-Pusher-Signature")
    if expected_key is not None and not hmac.compare_digest(expected_key, key or ""):
        raise InvalidWebhook("X-Pusher-Key is not this site's WEBHOOK_KEY")
    try:
        payload = json.loads(body)
    except ValueError:
        raise InvalidWebhook("body is not JSON") from None
    if not isinstance(payload, dict):
        raise InvalidWebhook("body is not a JSON object")
    time_ms = payload.get("time_ms")
    if not isinstance(time_ms, int) or isinstance(time_ms, bool):
        raise InvalidWebhook('body needs an integer "time_ms"')
    age = (time.time() if now is None else now) - time_ms / 1000
    if abs(age) > max_age:
        raise InvalidWebhook(
            "time_ms is %d s %s: refused as a possible replay"
            % (abs(age), "old" if age > 0 else "in the future")
        )
    return payload


def webhook_view(
    secret: Optional[str] = None,
    key: Optional[str] = None,
    max_age: float = DEFAULT_MAX_AGE_SECONDS,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorates ``view(request, events)``; refuses bad webhooks with 401/400.

    ``secret`` and ``key`` default to settings.EDGE_CHAT_WEBHOOK_SECRET /
    EDGE_CHAT_WEBHOOK_KEY, then the WEBHOOK_SECRET / WEBHOOK_KEY environment
    variables. The view's answer should be 2xx: anything else makes the room
    retry the whole batch.
    """

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        from django.http import HttpResponseNotAllowed, JsonResponse
        from django.views.decorators.csrf import csrf_exempt

        @csrf_exempt
        @functools.wraps(view)
        def wrapper(request: Any, *args: Any, **kwargs: Any) -> Any:
            verified, refusal = verified_post(
                request, verify_webhook, secret=secret, key=key, max_age=max_age
            )
            if refusal is not None:
                return refusal
            return view(request, verified["events"], *args, **kwargs)

        return wrapper

    return decorate


def verified_post(
    request: Any,
    verify: Callable[..., Any],
    *,
    secret: Optional[str],
    key: Optional[str],
    max_age: float,
) -> tuple[Any, Any]:
    """``(verified body, None)`` for a signed POST, or ``(None, response)`` refusing it.

    What every signed view of this package does first: POST only (405), then
    ``verify`` with the signature and key headers against ``secret`` and
    ``key`` (or the settings), 401 with the reason when it raises.
    """
    from django.http import HttpResponseNotAllowed, JsonResponse

    if request.method != "POST":
        return None, HttpResponseNotAllowed(["POST"])
    try:
        return (
            verify(
                request.body,
                request.headers.get("X-Pusher-Signature"),
                secret=secret or _setting("WEBHOOK_SECRET"),
                key=request.headers.get("X-Pusher-Key"),
                expected_key=key or _setting("WEBHOOK_KEY") or None,
                max_age=max_age,
            ),
            None,
        )
    except InvalidWebhook as err:
        return None, JsonResponse({"error": str(err)}, status=401)


def _setting(name: str) -> str:
    from django.conf import settings

    return getattr(settings, "EDGE_CHAT_" + name, None) or os.environ.get(name, "")
