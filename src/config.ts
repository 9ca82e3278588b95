/**
 * @module config
 * Tunables read from the Worker's vars, each with a documented default so an
 * empty or missing value never disables a limit by accident.
 */

export interface RoomConfig {
  /** Messages kept per room; older ones are deleted as new ones arrive. */
  historyLimit: number;
  /** Messages replayed to a client that joins without `since`. */
  historyOnJoin: number;
  /** Longest chat message, in characters (UTF-16 code units). */
  maxMessageChars: number;
  /**
   * Messages one sender may send per window before it gets `rate_limited`: a
   * token holder by member id, a guest by address plus name, over all their sockets.
   */
  rateLimitMessages: number;
  /** Messages all guests from one address may send per window together (a NAT's worth). */
  rateLimitAddressMessages: number;
  rateLimitWindowMs: number;
  /** Open sockets a room accepts; further upgrades get 503. */
  maxRoomConnections: number;
  /** Open sockets a room accepts from one address; further upgrades get 429. */
  maxConnectionsPerAddress: number;
  /** Longest display name, in characters. */
  maxNameChars: number;
  /** Live chat a member may be behind (buffered, or unacknowledged by a client that acks) before it is closed as slow. */
  maxUnackedBytes: number;
  /**
   * What all members of a room together may hold unread (see
   * SlowConsumers); past it the members holding most are closed as slow.
   */
  maxRoomUnreadBytes: number;
  /** A room with no members and no new messages for this long deletes its storage; 0 keeps rooms forever. */
  roomTtlMs: number;
}

/** The vars this module reads; Env satisfies it, and so does a plain object in tests. */
export type ConfigVars = Partial<
  Record<
    | "HISTORY_LIMIT"
    | "HISTORY_ON_JOIN"
    | "MAX_MESSAGE_CHARS"
    | "RATE_LIMIT_MESSAGES"
    | "RATE_LIMIT_WINDOW_SECONDS"
    | "RATE_LIMIT_ADDRESS_MESSAGES"
    | "MAX_ROOM_CONNECTIONS"
    | "MAX_CONNECTIONS_PER_ADDRESS"
    | "MAX_NAME_CHARS"
    | "MAX_UNACKED_BYTES"
    | "MAX_ROOM_UNREAD_BYTES"
    | "ROOM_TTL"
    | "ALLOWED_ORIGINS"
    | "ROOM_RELAYS",
    string
  >
>;

export const DEFAULTS: RoomConfig = {
  historyLimit: 1000,
  historyOnJoin: 50,
  maxMessageChars: 2000,
  rateLimitMessages: 20,
  rateLimitWindowMs: 10_000,
  // Ten chatty guests behind one NAT at the full per-sender rate.
  rateLimitAddressMessages: 200,
  maxRoomConnections: 10_000,
  // A school or office behind one address: a class of 30, each with a few tabs.
  maxConnectionsPerAddress: 100,
  maxNameChars: 32,
  // Centrifugo's per-connection queue cap; about 500 full-length messages.
  maxUnackedBytes: 1024 * 1024,
  // 128 members each a full budget behind; a busy room of readers holds far less.
  maxRoomUnreadBytes: 128 * 1024 * 1024,
  roomTtlMs: 30 * 24 * 60 * 60 * 1000,
};

/**
 * Largest accepted inject API body; bigger ones get 413 before parsing.
 * Room for a full batch: 100 messages of 2000 ASCII characters.
 */
export const MAX_BODY_BYTES = 256 * 1024;

function intVar(value: string | undefined, fallback: number, min: number): number {
  if (value === undefined || value.trim() === "") return fallback;
  const n = Number(value);
  return Number.isInteger(n) && n >= min ? n : fallback;
}

/** Parsed once per environment object: the Worker reads them on every join. */
const parsed = new WeakMap<ConfigVars, RoomConfig>();

/** Reads the room tunables from the environment, falling back to DEFAULTS. */
export function roomConfig(env: ConfigVars): RoomConfig {
  let config = parsed.get(env);
  if (config === undefined) parsed.set(env, (config = readRoomConfig(env)));
  return config;
}

function readRoomConfig(env: ConfigVars): RoomConfig {
  return {
    historyLimit: intVar(env.HISTORY_LIMIT, DEFAULTS.historyLimit, 1),
    historyOnJoin: intVar(env.HISTORY_ON_JOIN, DEFAULTS.historyOnJoin, 0),
    maxMessageChars: intVar(env.MAX_MESSAGE_CHARS, DEFAULTS.maxMessageChars, 1),
    rateLimitMessages: intVar(env.RATE_LIMIT_MESSAGES, DEFAULTS.rateLimitMessages, 1),
    rateLimitWindowMs:
      intVar(env.RATE_LIMIT_WINDOW_SECONDS, DEFAULTS.rateLimitWindowMs / 1000, 1) * 1000,
    rateLimitAddressMessages: intVar(
      env.RATE_LIMIT_ADDRESS_MESSAGES,
      DEFAULTS.rateLimitAddressMessages,
      1,
    ),
    maxRoomConnections: intVar(env.MAX_ROOM_CONNECTIONS, DEFAULTS.maxRoomConnections, 1),
    maxConnectionsPerAddress: intVar(
      env.MAX_CONNECTIONS_PER_ADDRESS,
      DEFAULTS.maxConnectionsPerAddress,
      1,
    ),
    maxNameChars: intVar(env.MAX_NAME_CHARS, DEFAULTS.maxNameChars, 1),
    maxUnackedBytes: intVar(env.MAX_UNACKED_BYTES, DEFAULTS.maxUnackedBytes, 1024),
    maxRoomUnreadBytes: intVar(env.MAX_ROOM_UNREAD_BYTES, DEFAULTS.maxRoomUnreadBytes, 1024),
    // Seconds, like the other durations.
    roomTtlMs: intVar(env.ROOM_TTL, DEFAULTS.roomTtlMs / 1000, 0) * 1000,
  };
}

/** Origins other than the page's own that may open WebSockets (comma-separated). */
export function allowedOrigins(env: ConfigVars): string[] {
  return (env.ALLOWED_ORIGINS ?? "")
    .split(",")
    .map((o) => o.trim().replace(/\/+$/, "").toLowerCase())
    .filter((o) => o !== "");
}

/** Most relays a room may be spread over (ROOM_RELAYS is clamped to it). */
export const MAX_ROOM_RELAYS = 64;

/**
 * Relay objects each room's sockets are spread over (ROOM_RELAYS); 1, the
 * default, keeps every socket on the room object itself, with no extra hop.
 */
export function roomRelays(env: ConfigVars): number {
  let relays = parsedRelays.get(env);
  if (relays === undefined) {
    relays = Math.min(MAX_ROOM_RELAYS, intVar(env.ROOM_RELAYS, 1, 1));
    parsedRelays.set(env, relays);
  }
  return relays;
}

/** Parsed once per environment object: the Worker reads it on every join. */
const parsedRelays = new WeakMap<ConfigVars, number>();
