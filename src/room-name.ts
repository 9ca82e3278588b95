/**
 * @module room-name
 * What counts as a room: any Unicode text a person could type, unlike
 * Channels' ASCII-only group names, minus what would be ambiguous in a URL.
 */

import { charCount, hasControlChar, type Parsed } from "./text";

export const MAX_ROOM_CHARS = 64;

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
  return { ok: true, value: room };
}
