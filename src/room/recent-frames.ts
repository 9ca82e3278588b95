/**
 * @module recent-frames
 * The newest chat frames of a room, serialised, in memory: what a joiner is
 * owed is almost always among them (the latest HISTORY_ON_JOIN, or the few
 * after a reconnecting client's `since`), so a join costs neither a SQLite
 * read nor a JSON.stringify per message. Filled from storage once per wake,
 * then kept current by every stored message.
 */
import { serialize, type ChatMessage } from "../protocol";

export class RecentFrames {
  #capacity: number;
  /** Frames of ids firstId, firstId + 1, … (ids are contiguous); null until loaded. */
  #frames: string[] | null = null;
  #firstId = 1;

  constructor(capacity: number) {
    this.#capacity = capacity;
  }

  /** How many frames the copy holds once full: the room loads this many. */
  get capacity(): number {
    return this.#capacity;
  }

  /** Whether the copy is there; until then the room loads it with `load`. */
  get loaded(): boolean {
    return this.#frames !== null;
  }

  /** Takes the newest stored messages (oldest first) as the starting copy. */
  load(messages: ChatMessage[]): void {
    this.#frames = messages.slice(-this.#capacity).map(serialize);
    this.#firstId = messages.length > 0 ? messages.at(-this.#frames.length)!.id : 1;
  }

  /** Records a newly stored message with the frame that was broadcast for it. */
  push(id: number, frame: string): void {
    if (this.#frames === null) return;
    if (this.#frames.length === 0) this.#firstId = id;
    this.#frames.push(frame);
    if (this.#frames.length > this.#capacity) {
      this.#frames.shift();
      this.#firstId++;
    }
  }

  /** Forgets the copy (storage was changed behind its back, e.g. deleted). */
  clear(): void {
    this.#frames = null;
  }

  /** The newest `count` frames, or null when the copy holds fewer than the room might. */
  latest(count: number): string[] | null {
    if (this.#frames === null) return null;
    if (count <= 0) return [];
    // A full copy may be shorter than what storage keeps; a short one is all of it.
    if (count > this.#frames.length && this.#frames.length === this.#capacity) return null;
    return count >= this.#frames.length ? this.#frames : this.#frames.slice(-count);
  }

  /**
   * The frames after `since` when the copy reaches back that far (up to
   * `limit` of them), or null when storage must be asked.
   */
  after(since: number, limit: number, lastId: number): string[] | null {
    if (this.#frames === null) return null;
    if (since >= lastId) return [];
    if (since < this.#firstId - 1 || this.#frames.length === 0) return null;
    const from = since - this.#firstId + 1;
    return this.#frames.slice(from, from + limit);
  }
}
