/**
 * @module storage
 * What the browser remembers between visits: the display name and the rooms
 * visited lately. localStorage may be missing or full (private windows,
 * disabled storage); every function then degrades to "nothing remembered".
 */
import { MAX_NAME_CHARS, parseDisplayName } from "../src/identity/display-name";
import { parseRoomName } from "../src/identity/room-name";

const NAME_KEY = "chat.displayName";
const GUEST_KEY = "chat.guestKey";
const RECENT_KEY = "chat.recentRooms";
export const MAX_RECENT_ROOMS = 8;

export interface RecentRoom {
  room: string;
  /** Milliseconds since the epoch of the last visit. */
  at: number;
}

/** A limit the server put in the page (`<meta name="chat-…">`), else `fallback`. */
export function pageLimit(name: string, fallback: number): number {
  const meta = document.querySelector<HTMLMetaElement>(`meta[name="${name}"]`);
  const n = Number(meta?.content);
  return Number.isInteger(n) && n > 0 ? n : fallback;
}

/** Checks a display name by the server's rules, with the server's length limit. */
export function checkName(input: string | null): ReturnType<typeof parseDisplayName> {
  return parseDisplayName(input, pageLimit("chat-max-name-chars", MAX_NAME_CHARS));
}

function read(key: string): string | null {
  try {
    return localStorage.getItem(key);
  } catch {
    return null;
  }
}

function write(key: string, value: string | null): void {
  try {
    if (value === null) localStorage.removeItem(key);
    else localStorage.setItem(key, value);
  } catch {
    // Storage disabled or full: the page still works, it just forgets.
  }
}

/** The remembered display name, if it is one the server accepts. */
export function loadName(): string | null {
  const parsed = checkName(read(NAME_KEY));
  return parsed.ok ? parsed.value : null;
}

export function saveName(name: string | null): void {
  write(NAME_KEY, name);
}

/**
 * This browser's guest key (`?guest=`): made once, kept. The room derives a
 * member id from it, so this browser's messages stay its own after a reload.
 * Without storage, a key for this page only.
 */
export function guestKey(): string {
  const kept = read(GUEST_KEY);
  if (kept !== null && /^[A-Za-z0-9_-]{16,128}$/.test(kept)) return kept;
  const key = Array.from(crypto.getRandomValues(new Uint8Array(18)), (b) =>
    b.toString(16).padStart(2, "0"),
  ).join("");
  write(GUEST_KEY, key);
  return key;
}

export function loadRecentRooms(): RecentRoom[] {
  let list: unknown;
  try {
    list = JSON.parse(read(RECENT_KEY) ?? "[]");
  } catch {
    return [];
  }
  if (!Array.isArray(list)) return [];
  const rooms: RecentRoom[] = [];
  for (const item of list as unknown[]) {
    if (typeof item !== "object" || item === null) continue;
    const { room, at } = item as { room?: unknown; at?: unknown };
    if (typeof room !== "string" || typeof at !== "number") continue;
    const parsed = parseRoomName(room);
    if (parsed.ok && !rooms.some((r) => r.room === parsed.value))
      rooms.push({ room: parsed.value, at });
  }
  return rooms.slice(0, MAX_RECENT_ROOMS);
}

/** Moves `room` to the front of the recent list. */
export function rememberRoom(room: string, now = Date.now()): void {
  const rooms = [{ room, at: now }, ...loadRecentRooms().filter((r) => r.room !== room)];
  write(RECENT_KEY, JSON.stringify(rooms.slice(0, MAX_RECENT_ROOMS)));
}

export function forgetRecentRooms(): void {
  write(RECENT_KEY, null);
}

/** The page URL of a room, as the lobby links to it. */
export function roomPath(room: string): string {
  return `/chat/${encodeURIComponent(room)}/`;
}
