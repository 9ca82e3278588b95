/**
 * @module history
 * Which messages the page holds, and where to resume after a reconnect.
 * Kept apart from the DOM so the rules are easy to read and to check.
 *
 * The room replays, in id order and without gaps, every retained message
 * after `since`; live messages follow with the next ids. So the messages a
 * page holds are contiguous and "the largest id held" is the whole cursor.
 */
import type { ChatMessage } from "./protocol.ts";

export class MessageHistory {
  readonly #ids = new Set<number>();
  #maxId: number | null = null;
  /** The room's last id when this page first joined; see `since`. */
  #joinedAt: number | null = null;
  /** The last id announced by the current connection's welcome. */
  #expectUpTo = 0;

  /** Records a message; false when the page already holds it (a replay overlap). */
  add(message: ChatMessage): boolean {
    if (this.#ids.has(message.id)) return false;
    this.#ids.add(message.id);
    if (this.#maxId === null || message.id > this.#maxId) this.#maxId = message.id;
    return true;
  }

  has(id: number): boolean {
    return this.#ids.has(id);
  }

  get size(): number {
    return this.#ids.size;
  }

  /** A welcome frame arrived: `lastId` is the room's newest id at that moment. */
  welcome(lastId: number): void {
    this.#joinedAt ??= lastId;
    this.#expectUpTo = lastId;
  }

  /**
   * The room's storage was reset and its ids start again after `lastId`:
   * the ids held so far mean nothing any more.
   */
  reset(lastId: number): void {
    this.#ids.clear();
    this.#maxId = null;
    this.#joinedAt = lastId;
    this.#expectUpTo = lastId;
  }

  /**
   * `since` for the next connection. The largest id held; or, holding none,
   * the room's last id when the page first joined (so a room that was empty,
   * or a server configured to replay nothing, still resumes exactly); or
   * null before any welcome: then the room sends its latest messages.
   */
  get since(): number | null {
    return this.#maxId ?? this.#joinedAt;
  }

  /** True once everything the current welcome announced has arrived. */
  get caughtUp(): boolean {
    return this.#expectUpTo <= (this.since ?? 0);
  }
}
