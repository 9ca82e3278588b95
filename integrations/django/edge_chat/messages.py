"""Message events: every stored message, reported to the webhook receiver.

With ``WEBHOOK_MESSAGES = "true"`` on the chat service, each message a room
stores (from a member's socket or the inject API) also arrives in the
webhooks' batches, in Pusher's ``client_event`` shape plus the message id::

    {"name": "client_event", "channel": "lobby", "event": "message", "id": 7,
     "data": "{\\"type\\":\\"chat\\",\\"id\\":7,\\"message\\":\\"hi\\",...}",
     "user_id": "42"}

Ids increase strictly per room. A delivery that is retried carries the same
events again, so store by (room, id) and skip what you have:
``new_messages(events, seen=...)`` does that and hands back the rest in order.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Optional

from .webhooks import InvalidWebhook

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ChatMessage:
    """One stored message, as the room's members received it."""

    room: str
    #: The room's message id: strictly increasing per room.
    id: int
    message: str
    #: The display name it was sent under.
    user: str
    #: When the room stored it, in ms since the epoch.
    ts: int
    #: The sender's member id (a join token's ``sub``); None for inject API messages.
    member_id: Optional[str]
    #: True when the sender joined with a join token your site signed.
    verified: bool
    client_id: Optional[str]


def chat_messages(events: Iterable[dict[str, Any]]) -> list[ChatMessage]:
    """The message events among a webhook's events, parsed, in the order given.

    Other events (membership, occupancy) are left out. Raises
    ``InvalidWebhook`` for a message event that is not of the documented shape.
    """
    out = []
    for event in events:
        if event.get("name") != "client_event" or event.get("event") != "message":
            continue
        room, message_id, data = event.get("channel"), event.get("id"), event.get("data")
        if not isinstance(room, str) or not _is_int(message_id) or not isinstance(data, str):
            raise InvalidWebhook('a message event needs "channel", an integer "id" and "data"')
        try:
            frame = json.loads(data)
        except ValueError:
            raise InvalidWebhook('a message event\'s "data" is not JSON') from None
        if (
            not isinstance(frame, dict)
            or not isinstance(frame.get("message"), str)
            or not isinstance(frame.get("user"), str)
            or not _is_int(frame.get("ts"))
        ):
            raise InvalidWebhook('a message event\'s "data" needs "message", "user" and "ts"')
        member_id = frame.get("memberId", event.get("user_id"))
        out.append(
            ChatMessage(
                room=room,
                id=message_id,
                message=frame["message"],
                user=frame["user"],
                ts=frame["ts"],
                member_id=member_id if isinstance(member_id, str) else None,
                verified=frame.get("verified") is True,
                client_id=frame.get("clientId") if isinstance(frame.get("clientId"), str) else None,
            )
        )
    return out


def new_messages(
    events: Iterable[dict[str, Any]],
    seen: Callable[[str, int], bool],
    last_id: Optional[Callable[[str], Optional[int]]] = None,
) -> list[ChatMessage]:
    """The messages among ``events`` not stored yet, each once, in order.

    ``seen(room, id)`` says whether you already have a message (a retried
    delivery repeats a batch). With ``last_id(room)`` (the highest id you
    hold), a jump past ``last_id + 1`` is logged as a gap: messages the
    rooms gave up delivering (after about five minutes of failed retries),
    which ``GET /api/rooms/<room>/messages?since=<last_id>`` can still fill
    while the room keeps them.
    """
    fresh: list[ChatMessage] = []
    taken: set[tuple[str, int]] = set()
    newest: dict[str, Optional[int]] = {}
    for message in chat_messages(events):
        key = (message.room, message.id)
        if key in taken or seen(message.room, message.id):
            continue
        if last_id is not None:
            if message.room not in newest:
                newest[message.room] = last_id(message.room)
            before = newest[message.room]
            if before is not None and message.id > before + 1:
                log.warning(
                    "room %r: messages %d to %d never arrived", message.room, before + 1, message.id - 1
                )
            if before is None or message.id > before:
                newest[message.room] = message.id
        taken.add(key)
        fresh.append(message)
    return fresh


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
