"""The publish hook: the consumer's ``receive()``, moved to a Django view.

With ``PUBLISH_HOOK_URL`` set on the chat service, a room POSTs every
member's message here before it stores it, signed like the webhooks
(``X-Pusher-Key``, ``X-Pusher-Signature`` = hex HMAC-SHA256 of the raw body
keyed with WEBHOOK_SECRET)::

    {"time_ms": 1764000000000, "room": "lobby",
     "member": {"id": "42", "name": "Ada", "verified": true},
     "message": "hello", "clientId": "c1"}

and the view answers with ``allow()``, ``deny("reason")`` (the sender sees
the reason, nobody gets the message) or ``replace(message=..., user=...)``
(everyone gets the replacement). The room waits at most
PUBLISH_HOOK_TIMEOUT_MS (1.5 s by default) for the answer.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Callable, Optional, Union

from .webhooks import InvalidWebhook, signed_json, verified_post

#: Hook calls are never retried: a call older than this is a replay (or a
#: clock that is far off). Clocks may drift either way by as much.
DEFAULT_MAX_AGE_SECONDS = 60


@dataclass(frozen=True)
class Member:
    """Who sent the message. ``verified``: the id and name come from a join
    token your site signed; otherwise the name is self-chosen and the id is
    the room's id for a guest: never trust them for permissions."""

    id: str
    name: str
    verified: bool


@dataclass(frozen=True)
class Publish:
    """A member's message waiting for your verdict."""

    room: str
    member: Member
    message: str
    #: The sender's own id for the message, if its client gave one.
    client_id: Optional[str]
    time_ms: int


def verify_publish(
    body: bytes,
    signature: Optional[str],
    *,
    secret: str,
    key: Optional[str] = None,
    expected_key: Optional[str] = None,
    max_age: float = DEFAULT_MAX_AGE_SECONDS,
    now: Optional[float] = None,
) -> Publish:
    """Checks a hook call's signature, key and freshness and returns it.

    Raises ``InvalidWebhook`` when any check fails or the body is not a
    publish hook call (a webhook body signed with the same secret is not one).
    """
    payload = signed_json(
        body, signature, secret=secret, key=key, expected_key=expected_key, max_age=max_age, now=now
    )
    room, member, message = payload.get("room"), payload.get("member"), payload.get("message")
    client_id = payload.get("clientId")
    if not isinstance(room, str) or not isinstance(message, str):
        raise InvalidWebhook('a publish hook call needs a string "room" and "message"')
    if (
        not isinstance(member, dict)
        or not isinstance(member.get("id"), str)
        or not isinstance(member.get("name"), str)
        or not isinstance(member.get("verified"), bool)
    ):
        raise InvalidWebhook('a publish hook call needs "member": {"id", "name", "verified"}')
    if client_id is not None and not isinstance(client_id, str):
        raise InvalidWebhook('"clientId" must be a string')
    return Publish(
        room=room,
        member=Member(id=member["id"], name=member["name"], verified=member["verified"]),
        message=message,
        client_id=client_id,
        time_ms=payload["time_ms"],
    )


def allow() -> Any:
    """The message goes out as sent."""
    from django.http import JsonResponse

    return JsonResponse({"action": "allow"})


def deny(reason: str = "") -> Any:
    """Nobody gets the message; the sender gets an error frame with ``reason``
    (code ``refused``; at most 200 characters are shown)."""
    from django.http import JsonResponse

    if not isinstance(reason, str):
        raise TypeError("deny() takes the reason the sender sees, as a string")
    return JsonResponse({"action": "deny", "reason": reason})


def replace(message: Optional[str] = None, user: Optional[str] = None) -> Any:
    """Everyone gets ``message`` instead of the text sent and/or ``user`` as
    the sender's name. Either must be what the room accepts from a member
    (non-empty, within MAX_MESSAGE_CHARS / MAX_NAME_CHARS, no control
    characters in a name), or the room counts the answer as a failure."""
    from django.http import JsonResponse

    if message is None and user is None:
        raise TypeError("replace() needs message= or user=; to pass the message on, return allow()")
    for name, value in (("message", message), ("user", user)):
        if value is not None and not isinstance(value, str):
            raise TypeError("replace(%s=...) must be a string" % name)
    answer: dict[str, str] = {"action": "replace"}
    if message is not None:
        answer["message"] = message
    if user is not None:
        answer["user"] = user
    return JsonResponse(answer)


View = Callable[..., Any]


def publish_hook(
    view: Optional[View] = None,
    *,
    secret: Optional[str] = None,
    key: Optional[str] = None,
    max_age: float = DEFAULT_MAX_AGE_SECONDS,
) -> Union[View, Callable[[View], View]]:
    """Decorates ``view(request, publish)`` as the rooms' publish hook.

    Use as ``@publish_hook`` or ``@publish_hook(secret=..., key=...)``. The
    view is CSRF-exempt and POST-only; a call whose signature, key or
    ``time_ms`` (within ``max_age`` seconds) does not check out gets 401 and
    the view is not called. ``secret`` and ``key`` default to
    settings.EDGE_CHAT_WEBHOOK_SECRET / EDGE_CHAT_WEBHOOK_KEY, then the
    WEBHOOK_SECRET / WEBHOOK_KEY environment variables. The view returns
    ``allow()``, ``deny(reason)`` or ``replace(...)``; anything else is a
    programming error (``TypeError``), which the room sees as a failed call.
    """

    def decorate(inner: View) -> View:
        from django.http import JsonResponse
        from django.views.decorators.csrf import csrf_exempt

        @csrf_exempt
        @functools.wraps(inner)
        def wrapper(request: Any, *args: Any, **kwargs: Any) -> Any:
            publish, refusal = verified_post(
                request, verify_publish, secret=secret, key=key, max_age=max_age
            )
            if refusal is not None:
                return refusal
            answer = inner(request, publish, *args, **kwargs)
            if not isinstance(answer, JsonResponse):
                raise TypeError(
                    "%s must return allow(), deny(reason) or replace(message=..., user=...), not %r"
                    % (getattr(inner, "__name__", "the publish hook view"), answer)
                )
            return answer

        return wrapper

    return decorate(view) if view is not None else decorate
