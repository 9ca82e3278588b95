/**
 * @module sockets
 * Sending to and closing a room's sockets without letting one broken socket
 * throw into the code that serves everybody else.
 */

/** Sends a frame; false when the socket refused it (closed or broken). */
export function trySend(ws: WebSocket, frame: string): boolean {
  try {
    ws.send(frame);
    return true;
  } catch {
    return false;
  }
}

/**
 * Closes a socket, ignoring a socket that is already closing. A socket the
 * room gives up on must be closed, not only forgotten: an accepted socket
 * that is still open comes back from getWebSockets() after every wake.
 */
export function closeQuietly(ws: WebSocket, code: number, reason: string): void {
  try {
    ws.close(code, reason);
  } catch {
    // Already closing or closed.
  }
}
