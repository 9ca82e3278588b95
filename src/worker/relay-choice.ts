/**
 * @module relay-choice
 * Which relay of a big room (ROOM_RELAYS > 1) holds a joining member's
 * socket: the same one every time for a member with a stable id (a token's
 * id, a keyed guest's id), so a reconnect lands where it was; a guest
 * without a key has no stable id and goes to a random one, which spreads
 * them evenly.
 */

/** The relay index, in [0, relays), for a member with this stable id (or null: random). */
export function relayFor(stableId: string | null, relays: number): number {
  if (stableId === null) return Math.floor(Math.random() * relays);
  // FNV-1a: cheap, and ids (hex digests, token subjects) spread well under it.
  let hash = 0x811c9dc5;
  for (let i = 0; i < stableId.length; i++) {
    hash ^= stableId.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0) % relays;
}
