/**
 * @module room-name
 * What counts as a room: any Unicode text a person could type, unlike
 * Channels' ASCII-only group names, minus what would be ambiguous in a URL.
 */

import { findHiddenChar } from "./hidden-chars";
import { skeleton } from "./lookalike";
import { charCount, hasControlChar, type Parsed } from "../text";

export const MAX_ROOM_CHARS = 64;

/** Rooms whose name starts with exactly this admit only members with a join token. */
export const PRIVATE_PREFIX = "private-";
/** In a join token's `room` claim, every room; never a room itself. */
export const EVERY_ROOM = "*";

export function isPrivateRoom(room: string): boolean {
  return room.startsWith(PRIVATE_PREFIX);
}

/** Percent-decodes a raw URL path segment and validates it as a room name. */
export function parseRoomSegment(raw: string): Parsed<string> {
  let decoded: string;
  try {
    decoded = decodeURIComponent(raw);
  } catch {
    return { ok: false, error: "room name is not valid percent-encoding" };
  }
  return parseRoomName(decoded);
}

/**
 * Validates an already decoded room name and returns its NFC form, so that
 * "é" typed as one or two code points reaches the same room.
 */
export function parseRoomName(name: string): Parsed<string> {
  const room = name.normalize("NFC");
  const length = charCount(room);
  if (length === 0) return { ok: false, error: "room name is empty" };
  if (length > MAX_ROOM_CHARS)
    return { ok: false, error: `room name is longer than ${MAX_ROOM_CHARS} characters` };
  if (hasControlChar(room)) return { ok: false, error: "room name contains a control character" };
  if (room.includes("/")) return { ok: false, error: "room name contains '/'" };
  if (room.trim() !== room) return { ok: false, error: "room name starts or ends with whitespace" };
  // URLs collapse these path segments, so no request could ever reach such a room.
  if (room === "." || room === "..") return { ok: false, error: "room name cannot be '.' or '..'" };
  const hidden = findHiddenChar(room);
  if (hidden)
    return { ok: false, error: `room name contains an invisible formatting character (${hidden})` };
  // A room named "*" would let a backend that mints tokens for user-chosen
  // rooms hand out a token for every room.
  if (room.normalize("NFKC") === EVERY_ROOM)
    return { ok: false, error: "'*' is not a room name: in join tokens it means every room" };
  if (!isPrivateRoom(room) && skeleton(room).startsWith(PRIVATE_PREFIX))
    return {
      ok: false,
      error: `room name looks like a private room's but is not one: private rooms start with exactly '${PRIVATE_PREFIX}' (lowercase ASCII)`,
    };
  return { ok: true, value: room };
}
