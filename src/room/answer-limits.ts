/**
 * @module answer-limits
 * Bounds the answers a socket can make the room send by sending frames:
 * error frames and receipts for resent clientIds. Without it one socket that
 * never reads could ask for a 2,000-character receipt with every 50-byte
 * frame, as fast as it can send. Counted per socket in memory; a window is
 * seconds, far shorter than a room's path to hibernation.
 */

/** Answers one socket gets per RATE_LIMIT_WINDOW_SECONDS: a resend queue's worth, well above what a person causes. */
export function answersPerWindow(rateLimitMessages: number): number {
  return 5 * rateLimitMessages;
}

/** What to do with one answer: send it, send the one notice that answers pause instead, or send nothing. */
export type AnswerVerdict = "send" | "notice" | "drop";

interface Window {
  start: number;
  count: number;
}

export class AnswerLimits {
  readonly #max: number;
  readonly #windowMs: number;
  readonly #windows = new WeakMap<WebSocket, Window>();

  constructor(max: number, windowMs: number) {
    this.#max = max;
    this.#windowMs = windowMs;
  }

  /** Counts one answer to `ws` at `now` and says whether it may go out. */
  take(ws: WebSocket, now: number): AnswerVerdict {
    let window = this.#windows.get(ws);
    if (!window || now - window.start >= this.#windowMs) {
      window = { start: now, count: 0 };
      this.#windows.set(ws, window);
    }
    window.count++;
    if (window.count <= this.#max) return "send";
    return window.count === this.#max + 1 ? "notice" : "drop";
  }

  /** When answers to `ws` resume, in ms from `now`. */
  resumesIn(ws: WebSocket, now: number): number {
    const window = this.#windows.get(ws);
    return window ? Math.max(0, window.start + this.#windowMs - now) : 0;
  }
}
