"""The inject API over HTTP with the standard library, retried safely.

Every call carries one ``Idempotency-Key`` for all its attempts, so a retry
after a lost answer never stores a message twice.
"""

from __future__ import annotations

import email.utils
import json
import random
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass
from typing import Any, Callable, Optional

#: Statuses worth retrying: the room or the network had a moment. A 503
#: without Retry-After is the service saying it has no BROADCAST_TOKEN:
#: configuration, not a moment, so it is reported at once.
TRANSIENT_STATUSES = frozenset({429, 500, 502, 504})


class EdgeChatError(Exception):
    """The chat service refused a request, or could not be reached in time."""

    def __init__(self, message: str, status: Optional[int] = None):
        super().__init__(message)
        self.status = status


@dataclass
class InjectClient:
    """Posts messages to ``POST /api/rooms/<room>/messages``."""

    url: str
    token: str
    #: Seconds for one attempt (connect plus answer).
    timeout: float = 5.0
    #: Attempts after the first one, for transient failures only: network
    #: errors, 429, 500, 502, 504 and 503 with Retry-After.
    retries: int = 4
    #: First back-off in seconds; doubles per attempt, with jitter.
    backoff: float = 0.25
    #: Longest wait between two attempts, whatever Retry-After says.
    max_backoff: float = 10.0
    sleep: Callable[[float], None] = time.sleep

    def post(self, room: str, messages: list[dict[str, str]]) -> dict[str, Any]:
        """Publishes ``messages`` into ``room`` in order; returns the API's answer."""
        if not self.url:
            raise EdgeChatError(
                "no chat service URL: set CHAT_URL in the environment or "
                '"url" in the channel layer\'s CONFIG'
            )
        if not self.token:
            raise EdgeChatError(
                "no inject API token: set BROADCAST_TOKEN in the environment or "
                '"token" in the channel layer\'s CONFIG'
            )
        endpoint = "{}/api/rooms/{}/messages".format(
            self.url.rstrip("/"), urllib.parse.quote(room, safe="")
        )
        body = json.dumps({"messages": messages}).encode()
        headers = {
            "Authorization": "Bearer " + self.token,
            "Content-Type": "application/json",
            "Idempotency-Key": str(uuid.uuid4()),
        }
        attempt = 0
        while True:
            request = urllib.request.Request(endpoint, body, headers, method="POST")
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:
                    return json.loads(response.read() or b"{}")
            except urllib.error.HTTPError as err:
                detail = _error_text(err)
                transient = err.code in TRANSIENT_STATUSES or (
                    err.code == 503 and "Retry-After" in err.headers
                )
                if not transient or attempt >= self.retries:
                    raise EdgeChatError(
                        "chat service answered {} for room {!r}: {}".format(
                            err.code, room, detail
                        ),
                        err.code,
                    ) from None
                wait = _retry_after(err.headers.get("Retry-After"))
            except (urllib.error.URLError, TimeoutError, ConnectionError) as err:
                if attempt >= self.retries:
                    raise EdgeChatError(
                        "chat service at {} unreachable after {} attempts: {}".format(
                            self.url, attempt + 1, getattr(err, "reason", err)
                        )
                    ) from err
                wait = None
            if wait is None:
                wait = self.backoff * (2**attempt) * random.uniform(0.5, 1.0)
            self.sleep(min(wait, self.max_backoff))
            attempt += 1


def _error_text(err: urllib.error.HTTPError) -> str:
    try:
        payload = json.loads(err.read() or b"{}")
        return str(payload.get("error") or payload)
    except (ValueError, AttributeError):
        return err.reason or "no details"


def _retry_after(value: Optional[str]) -> Optional[float]:
    """Seconds from a Retry-After header (seconds or an HTTP date), if any."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())
