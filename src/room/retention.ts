/**
 * @module retention
 * Deletes a room's storage once it has had no members and no new messages
 * for ROOM_TTL, and purges expired idempotency keys and bans on the way;
 * bans still in force are kept until they end. Driven by the room's alarm:
 * each room that has storage keeps one set (from its first write), at most
 * a day ahead, so an abandoned room is gone ROOM_TTL after it went quiet.
 */

/** Expired keys and bans are purged at least this often while a room lives. */
export const PURGE_EVERY_MS = 24 * 60 * 60 * 1000;

/** Storage key: when the last member left (ms); the messages table has the last message's time. */
const EMPTIED_AT = "retention.emptiedAt";

export interface RetentionState {
  /** Open sockets now. */
  members: number;
  /** Time of the newest message, or null when there is none. */
  lastMessageAt: number | null;
}

export type RetentionVerdict =
  | { delete: true; /** When the room went quiet. */ quietSince: number }
  | { delete: false; next: number };

/** Remembers that the room became empty at `now`; its quiet time starts then. */
export function markEmptied(storage: DurableObjectStorage, now: number): void {
  // Not awaited: the runtime's output gate holds replies until it is written.
  void storage.put(EMPTIED_AT, now);
}

/**
 * What the alarm should do now: delete the room, or come back at `next`.
 * A room with members is never deleted; its quiet time starts when they leave.
 */
export async function retentionVerdict(
  storage: DurableObjectStorage,
  state: RetentionState,
  ttlMs: number,
  now: number,
): Promise<RetentionVerdict> {
  const purge = now + PURGE_EVERY_MS;
  if (ttlMs === 0 || state.members > 0) return { delete: false, next: purge };
  const emptiedAt = (await storage.get<number>(EMPTIED_AT)) ?? null;
  const lastActive = Math.max(emptiedAt ?? 0, state.lastMessageAt ?? 0);
  // A room with no record of either (created before retention existed) starts its clock now.
  if (lastActive === 0) {
    markEmptied(storage, now);
    return { delete: false, next: Math.min(purge, now + ttlMs) };
  }
  const due = lastActive + ttlMs;
  return due <= now
    ? { delete: true, quietSince: lastActive }
    : { delete: false, next: Math.min(purge, due) };
}

/** Deletes everything the room stored, and its alarm. */
export async function deleteRoomStorage(storage: DurableObjectStorage): Promise<void> {
  await storage.deleteAlarm();
  await storage.deleteAll();
}
