"""What a Django site keeps when its rooms move to the edge: views.

- ``room``: a logged-in user gets a join token and is sent to the room page.
- ``announce``: the tutorial's group_send from a plain (sync) view.
- ``chat_webhook``: occupancy and membership from the rooms' webhooks.
"""

import logging
import os

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, HttpResponseRedirect
from django.views.decorators.http import require_POST

from edge_chat.tokens import mint_join_token, room_url
from edge_chat.webhooks import webhook_view

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
