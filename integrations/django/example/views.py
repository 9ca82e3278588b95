"""What a Django site keeps when its rooms move to the edge: views.

- ``room``: a logged-in user gets a join token and is sent to the room page.
- ``announce``: the tutorial's group_send from a plain (sync) view.
- ``chat_webhook``: occupancy and membership from the rooms' webhooks, and
  every message saved once, in order (message events).
- ``chat_publish``: the publish hook, the tutorial consumer's ``receive()``:
  a check (who may speak in ``staff-`` rooms), a reply to the sender alone
  (``/help``) and a transform (a profanity filter), before anyone gets the message.
"""

import datetime
import logging
import os
import re

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.db import transaction
from django.http import HttpResponse, HttpResponseRedirect
from django.views.decorators.http import require_POST

from edge_chat.hooks import allow, deny, publish_hook, replace
from edge_chat.messages import new_messages
from edge_chat.tokens import mint_join_token, room_url
from edge_chat.webhooks import webhook_view

from .models import Message

log = logging.getLogger(__name__)

#: Who is in which room, as the webhooks told us (a real site would use its database).
OCCUPANCY: dict[str, set[str]] = {}


@login_required
def room(request, room_name):
    """Sends the user to the edge room page under their own name; ``private-`` rooms need this."""
    token = mint_join_token(request.user, room_name)
    return HttpResponseRedirect(room_url(os.environ["CHAT_URL"], room_name, token))


@require_POST
@login_required
def announce(request, room_name):
    """Posts the form's ``message`` into the room, as the tutorial's consumers would have."""
    async_to_sync(get_channel_layer().group_send)(
        "chat_%s" % room_name,
        {
            "type": "chat.message",
            "message": request.POST["message"],
            "user": request.user.get_username(),
        },
    )
    return HttpResponse(status=204)


@webhook_view()
def chat_webhook(request, events):
    save_messages(events)
    for event in events:
        members = OCCUPANCY.setdefault(event["channel"], set())
        if event["name"] == "member_added":
            members.add(event["user_id"])
        elif event["name"] == "member_removed":
            members.discard(event["user_id"])
        elif event["name"] == "channel_vacated":
            OCCUPANCY.pop(event["channel"], None)
        log.info("chat webhook: %s", event)
    return HttpResponse(status=204)


def save_messages(events):
    """Saves each message event once (a retried delivery repeats a batch), in order."""
    fresh = new_messages(
        events,
        seen=lambda room, id: Message.objects.filter(room=room, message_id=id).exists(),
        last_id=lambda room: Message.objects.filter(room=room)
        .order_by("-message_id")
        .values_list("message_id", flat=True)
        .first(),
    )
    if not fresh:
        return
    with transaction.atomic():
        for m in fresh:
            Message.objects.create(
                room=m.room,
                message_id=m.id,
                user=m.user,
                member_id=m.member_id or "",
                verified=m.verified,
                text=m.message,
                sent_at=datetime.datetime.fromtimestamp(m.ts / 1000, tz=datetime.timezone.utc),
            )


#: A stand-in word list; a real site would use its own, or a library.
BLOCKED_WORDS = ("darn", "heck", "frak")
_BLOCKED = re.compile(r"\b(%s)\b" % "|".join(BLOCKED_WORDS), re.IGNORECASE)

HELP = "Commands: /help (this). In staff- rooms only staff may speak. Everything else goes to the room."


@publish_hook
def chat_publish(request, publish):
    """What ChatConsumer.receive() did before group_send: check, reply, transform."""
    # Check: in staff- rooms, only signed-in staff may speak. A guest's name
    # and id are its own choice; only a verified member's id is a user's pk.
    if publish.room.startswith("staff-"):
        staff = publish.member.verified and User.objects.filter(
            pk=publish.member.id, is_staff=True
        ).exists()
        if not staff:
            return deny("Only staff may speak in this room.")
    # Reply to the sender alone: the reason of a denial reaches only them.
    if publish.message.strip() == "/help":
        return deny(HELP)
    # Transform: everyone gets the filtered text.
    cleaned = _BLOCKED.sub(lambda m: "*" * len(m.group()), publish.message)
    if cleaned != publish.message:
        return replace(message=cleaned)
    return allow()
