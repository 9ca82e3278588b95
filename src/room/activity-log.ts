/**
 * @module activity-log
 * Routine events (sockets opened and closed, messages injected) as one log
 * line per room per interval with counts, instead of a line each: under
 * `wrangler dev` every line is relayed to the terminal and cost about as
 * much as the connection itself. Refusals, moderation and errors stay one
 * line per event (src/log.ts).
 */
import type { Log } from "../log";

/** How long counts are gathered before they are written as one line. */
export const ACTIVITY_INTERVAL_MS = 1000;

export class ActivityLog {
  #log: Log;
  #room: string;
  #members: () => number;
  #connected = 0;
  #disconnected = 0;
  #injected = 0;
  #resumedOnRelay = 0;
  #timer: ReturnType<typeof setTimeout> | null = null;

  /** `members` reads the room's current member count when a line is written. */
  constructor(log: Log, room: string, members: () => number) {
    this.#log = log;
    this.#room = room;
    this.#members = members;
  }

  connected(): void {
    this.#connected++;
    this.#schedule();
  }

  disconnected(): void {
    this.#disconnected++;
    this.#schedule();
  }

  injected(messages: number): void {
    this.#injected += messages;
    this.#schedule();
  }

  /** A member resumed with `since` on a relay whose recent frames held what it missed. */
  resumedOnRelay(): void {
    this.#resumedOnRelay++;
    this.#schedule();
  }

  /** Writes the counts gathered so far (if any) now. */
  flush(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    if (this.#connected + this.#disconnected + this.#injected === 0) return;
    this.#log("activity", {
      room: this.#room,
      connected: this.#connected,
      disconnected: this.#disconnected,
      injected: this.#injected,
      members: this.#members(),
      // Only rooms over relays have it: resumes the room read no history for.
      ...(this.#resumedOnRelay > 0 && { resumedOnRelay: this.#resumedOnRelay }),
    });
    this.#connected = this.#disconnected = this.#injected = this.#resumedOnRelay = 0;
  }

  #schedule(): void {
    this.#timer ??= setTimeout(() => this.flush(), ACTIVITY_INTERVAL_MS);
  }
}
