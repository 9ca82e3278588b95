/**
 * @module request-params
 * Reads and validates what a request says about rooms, names and ids; each
 * failure is a 400 whose message names the parameter.
 */
import type { Context } from "hono";
import { parseDisplayName } from "../identity/display-name";
import { fail } from "./http-errors";
import { MEMBER_CURSOR } from "../protocol";
import { parseRoomSegment } from "../identity/room-name";

/**
 * Rooms already accepted, by raw path segment: a storm of joins to one room
 * checks its name once, not once per socket (the look-alike rules are the
 * costliest part of a join in the Worker). Only accepted names are kept, so
 * each key is at most a valid name's length, and strangers cycling through
 * names cost memory only up to ROOM_CACHE such entries.
 */
const checkedRooms = new Map<string, string>();
const ROOM_CACHE = 1024;

/**
 * The validated room of a route with a `:room` segment. Decoded from the raw
 * path, not Hono's lenient decoding, so "%2F" and broken escapes are refused.
 */
export function roomParam(c: Context): string {
  const index = c.req.routePath.split("/").indexOf(":room");
  const raw = new URL(c.req.url).pathname.split("/")[index] ?? "";
  const known = checkedRooms.get(raw);
  if (known !== undefined) return known;
  const parsed = parseRoomSegment(raw);
  if (!parsed.ok) fail(400, `invalid room: ${parsed.error}`);
  if (checkedRooms.size >= ROOM_CACHE) checkedRooms.clear();
  checkedRooms.set(raw, parsed.value);
  return parsed.value;
}

/**
 * For URLs whose room segment was empty, or was "." or ".." and collapsed
 * away by URL parsing: still a bad room name, not a missing page.
 */
export function missingRoom(usage: string): never {
  fail(400, `invalid room: use ${usage}; a room name cannot be empty, '.' or '..'`);
}

/** An optional non-negative integer query parameter such as `since` or `limit`. */
export function intQuery(
  c: Context,
  key: string,
  max = Number.MAX_SAFE_INTEGER,
  min = 0,
): number | null {
  const value = c.req.query(key);
  if (value === undefined || value === "") return null;
  if (!/^\d{1,16}$/.test(value) || Number(value) > max || Number(value) < min)
    fail(400, `invalid ${key}: expected a whole number from ${min} to ${max}`);
  return Number(value);
}

/** An optional member-list cursor (`?cursor=`): only what a previous page handed out. */
export function cursorQuery(c: Context, key = "cursor"): string | null {
  const value = c.req.query(key);
  if (value === undefined || value === "") return null;
  if (!MEMBER_CURSOR.test(value))
    fail(400, `invalid ${key}: use the "next" of the previous page, or leave it out for the first`);
  return value;
}

/** A display name from `?name=` or a JSON `user` field; null means "make one up". */
export function displayName(
  input: string | undefined,
  field: string,
  maxChars: number,
): string | null {
  const parsed = parseDisplayName(input, maxChars);
  if (!parsed.ok) fail(400, `invalid ${field}: ${parsed.error}`);
  return parsed.value;
}

/** `?rich=1` opts a socket in to presence and other rich frames. */
export function flagQuery(c: Context, key: string): boolean {
  const value = c.req.query(key);
  return value === "1" || value === "true";
}
