"""A Channels layer that publishes into edge chat rooms.

Only ``group_send`` can work: the WebSockets live in the edge rooms, not in
this process, so there is no channel here to receive from or to add to a
group. Everything else raises ``EdgeUnsupported`` saying what to do instead.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any, Callable, Optional, Union

from channels.layers import BaseChannelLayer

from .client import EdgeChatError, InjectClient

__all__ = ["EdgeChannelLayer", "EdgeUnsupported", "EdgeChatError"]


class EdgeUnsupported(NotImplementedError):
    """An operation that needs a socket in this process; the sockets live at the edge."""


_NO_SOCKETS_HERE = (
    "the WebSockets live in the edge rooms, not in this Django process, so "
    "there are no channels here"
)


class EdgeChannelLayer(BaseChannelLayer):
    """``group_send(group, {"message": ..., "user": ...})`` posts into the group's room.

    CONFIG (all optional):

    - ``url``: the chat service, e.g. ``"https://chat.example.com"``;
      default: the ``CHAT_URL`` environment variable.
    - ``token``: its inject API token; default: ``BROADCAST_TOKEN``.
    - ``group_prefix``: stripped from group names to get the room
      (default ``"chat_"``, the tutorial's ``"chat_%s" % room_name``).
    - ``room_for_group``: a callable (or its dotted path) from group name
      to room name, replacing the prefix rule.
    - ``timeout``: seconds per HTTP attempt (default 5).
    - ``retries``: further attempts on network errors, 429, 500, 502, 504
      and 503 with Retry-After (default 4), all under one Idempotency-Key.
    """

    extensions = ["groups"]

    def __init__(
        self,
        url: Optional[str] = None,
        token: Optional[str] = None,
        group_prefix: str = "chat_",
        room_for_group: Union[None, str, Callable[[str], str]] = None,
        timeout: float = 5.0,
        retries: int = 4,
        **base: Any,
    ):
        super().__init__(**base)
        if isinstance(room_for_group, str):
            from django.utils.module_loading import import_string

            room_for_group = import_string(room_for_group)
        self.group_prefix = group_prefix
        self.room_for_group = room_for_group or self._strip_prefix
        self.client = InjectClient(
            url=url if url is not None else os.environ.get("CHAT_URL", ""),
            token=token if token is not None else os.environ.get("BROADCAST_TOKEN", ""),
            timeout=timeout,
            retries=retries,
        )

    def _strip_prefix(self, group: str) -> str:
        if self.group_prefix and group.startswith(self.group_prefix):
            return group[len(self.group_prefix) :]
        return group

    async def group_send(self, group: str, message: dict) -> None:
        """Publishes ``message["message"]`` into the room for ``group``.

        ``message["user"]``, when given, is the sender's display name;
        ``type`` and other keys are not sent (there is no consumer to
        dispatch on). Retries transient failures under one Idempotency-Key,
        so the room stores the message once; raises ``EdgeChatError`` when
        the service refuses it or stays unreachable.
        """
        self.valid_group_name(group)
        item = _inject_item(message)
        room = self.room_for_group(group)
        await asyncio.to_thread(self.client.post, room, [item])

    async def send(self, channel: str, message: dict) -> None:
        raise EdgeUnsupported(
            "send() to a single channel is not possible: "
            + _NO_SOCKETS_HERE
            + ". Publish to the room with group_send(), or remove a member "
            "with DELETE /api/rooms/<room>/members/<id>."
        )

    async def receive(self, channel: str) -> dict:
        raise EdgeUnsupported(
            "receive() is not possible: "
            + _NO_SOCKETS_HERE
            + ". Consumers do not run; to learn who joins and leaves, set "
            "WEBHOOK_URL on the chat service and handle its webhooks "
            "(edge_chat.webhooks); to read messages, GET /api/rooms/<room>/messages."
        )

    async def new_channel(self, prefix: str = "specific.") -> str:
        raise EdgeUnsupported(
            "new_channel() is not possible: "
            + _NO_SOCKETS_HERE
            + ". Clients connect to <CHAT_URL>/ws/chat/<room>/ directly."
        )

    async def group_add(self, group: str, channel: str) -> None:
        raise EdgeUnsupported(
            "group_add() is not needed: a WebSocket joins its room by "
            "connecting to <CHAT_URL>/ws/chat/<room>/; "
            + _NO_SOCKETS_HERE
            + ". Remove the consumer; for private rooms, hand the page a "
            "join token (edge_chat.tokens.mint_join_token)."
        )

    async def group_discard(self, group: str, channel: str) -> None:
        raise EdgeUnsupported(
            "group_discard() is not needed: a WebSocket leaves its room by "
            "closing; "
            + _NO_SOCKETS_HERE
            + ". To remove someone, DELETE /api/rooms/<room>/members/<id>."
        )


def _inject_item(message: Any) -> dict[str, str]:
    if not isinstance(message, dict):
        raise TypeError(
            "group_send message must be a dict like {'type': 'chat.message', 'message': 'hi'}"
        )
    text = message.get("message")
    if not isinstance(text, str):
        raise TypeError(
            "group_send message needs a string 'message' key: the chat text "
            "the room shows, e.g. {'type': 'chat.message', 'message': 'hi'}"
        )
    item = {"message": text}
    user = message.get("user")
    if user is not None:
        if not isinstance(user, str):
            raise TypeError("group_send 'user' must be a string: the sender's display name")
        item["user"] = user
    return item
