"""A minimal RFC 6455 client for the tests: text frames in, close out.

Debian ships no WebSocket client for Python, and the tests should need
nothing beyond Django, Channels and PyJWT.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import struct
import time
from typing import Any, Optional
from urllib.parse import urlsplit


class HandshakeRefused(Exception):
    def __init__(self, status: int, body: str):
        super().__init__("WebSocket upgrade refused with %d: %s" % (status, body))
        self.status = status
        self.body = body


class WebSocketClient:
    """Connects to ``ws://host:port/path?query`` and reads JSON text frames."""

    def __init__(self, url: str, timeout: float = 10.0):
        parts = urlsplit(url)
        self.sock = socket.create_connection((parts.hostname, parts.port or 80), timeout)
        self.buffer = b""
        key = base64.b64encode(os.urandom(16)).decode()
        target = parts.path + ("?" + parts.query if parts.query else "")
        self.sock.sendall(
            (
                "GET {} HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\n"
                "Connection: Upgrade\r\nSec-WebSocket-Key: {}\r\n"
                "Sec-WebSocket-Version: 13\r\n\r\n"
            )
            .format(target, parts.netloc, key)
            .encode()
        )
        head = self._read_until(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        if status != 101:
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            raise HandshakeRefused(status, self._read_exactly(length).decode(errors="replace"))
        self.frames: list[dict[str, Any]] = []

    def _read_more(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("server closed the connection")
        self.buffer += chunk

    def _read_until(self, marker: bytes) -> bytes:
        while marker not in self.buffer:
            self._read_more()
        head, self.buffer = self.buffer.split(marker, 1)
        return head

    def _read_exactly(self, n: int) -> bytes:
        while len(self.buffer) < n:
            self._read_more()
        data, self.buffer = self.buffer[:n], self.buffer[n:]
        return data

    def _read_frame(self) -> tuple[int, bytes]:
        first, second = self._read_exactly(2)
        length = second & 0x7F
        if length == 126:
            (length,) = struct.unpack("!H", self._read_exactly(2))
        elif length == 127:
            (length,) = struct.unpack("!Q", self._read_exactly(8))
        return first & 0x0F, self._read_exactly(length)

    def next_frame(self, deadline: float) -> Optional[dict[str, Any]]:
        """The next JSON text frame (each line of a batched frame counts), or None at close."""
        while True:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            opcode, payload = self._read_frame()
            if opcode == 0x8:
                return None
            if opcode == 0x1:
                for line in payload.decode().split("\n"):
                    self.frames.append(json.loads(line))
                return self.frames[-1]

    def wait_for(self, predicate, what: str, timeout: float = 10.0) -> dict[str, Any]:
        """Reads frames until one satisfies ``predicate``; fails after ``timeout``."""
        deadline = time.monotonic() + timeout
        for frame in self.frames:
            if predicate(frame):
                return frame
        seen = len(self.frames)
        while time.monotonic() < deadline:
            try:
                if self.next_frame(deadline) is None:
                    break
            except socket.timeout:
                break
            for frame in self.frames[seen:]:
                if predicate(frame):
                    return frame
            seen = len(self.frames)
        raise AssertionError("no %s within %s s; got %r" % (what, timeout, self.frames))

    def send_json(self, value: Any) -> None:
        """Sends one masked text frame holding ``value`` as JSON."""
        payload = json.dumps(value).encode()
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        if len(payload) < 126:
            head = bytes([0x81, 0x80 | len(payload)])
        elif len(payload) < 65536:
            head = bytes([0x81, 0x80 | 126]) + struct.pack("!H", len(payload))
        else:
            head = bytes([0x81, 0x80 | 127]) + struct.pack("!Q", len(payload))
        self.sock.sendall(head + mask + masked)

    def close(self) -> None:
        mask = os.urandom(4)
        payload = struct.pack("!H", 1000)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        try:
            self.sock.sendall(bytes([0x88, 0x80 | len(payload)]) + mask + masked)
        except OSError:
            pass
        self.sock.close()
