"""What the example site keeps of its rooms: every message, once, in order."""

from django.db import models


class Message(models.Model):
    """One message a room stored, from the rooms' message events."""

    room = models.CharField(max_length=200)
    #: The room's id for the message: strictly increasing per room.
    message_id = models.BigIntegerField()
    user = models.CharField(max_length=100)
    #: The join token's ``sub`` (the user's pk) or a guest's id; empty for inject API messages.
    member_id = models.CharField(max_length=200, blank=True)
    verified = models.BooleanField(default=False)
    text = models.TextField()
    sent_at = models.DateTimeField()

    class Meta:
        ordering = ["room", "message_id"]
        constraints = [
            models.UniqueConstraint(fields=["room", "message_id"], name="one_row_per_room_message")
        ]

    def __str__(self) -> str:
        return "%s #%d %s: %s" % (self.room, self.message_id, self.user, self.text[:40])
