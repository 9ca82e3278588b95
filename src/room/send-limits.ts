/**
 * @module send-limits
 * Sliding-window send limits keyed by who is sending, not by socket, so a
 * sender who reconnects (or opens more tabs) keeps the same budget. Counters
 * live in the room's memory: the room is one object, and it only hibernates
 * after a quiet spell, by which time a window of seconds has run out anyway.
 */

/** Who a send counts against: every key must have room for it. */
export interface SenderKeys {
  /** The member id (token holders) or address plus name (guests). */
  sender: string;
  /** A guest's address, shared by everyone behind one NAT; null when unknown or verified. */
  address: string | null;
}

export interface SendLimitConfig {
  perSender: number;
  perAddress: number;
  windowMs: number;
}

export class SendLimits {
  readonly #config: SendLimitConfig;
  /** Send times inside the window, per key; keys with none left are swept. */
  readonly #recent = new Map<string, number[]>();
  #nextSweep = 0;

  constructor(config: SendLimitConfig) {
    this.#config = config;
  }

  /** Counts a send and returns true, or returns false (counting nothing) when a limit is reached. */
  allow(keys: SenderKeys, now: number): boolean {
    const windowStart = now - this.#config.windowMs;
    if (now >= this.#nextSweep) this.#sweep(windowStart, now);
    const sender = this.#window(`s:${keys.sender}`, windowStart);
    if (sender.length >= this.#config.perSender) return false;
    const address = keys.address === null ? null : this.#window(`a:${keys.address}`, windowStart);
    if (address && address.length >= this.#config.perAddress) return false;
    sender.push(now);
    address?.push(now);
    return true;
  }

  /** How many senders and addresses have sends inside the window (for tests and stats). */
  get tracked(): number {
    return this.#recent.size;
  }

  #window(key: string, windowStart: number): number[] {
    let times = this.#recent.get(key);
    if (!times) {
      times = [];
      this.#recent.set(key, times);
    }
    let expired = 0;
    while (expired < times.length && times[expired]! <= windowStart) expired++;
    if (expired > 0) times.splice(0, expired);
    return times;
  }

  /** Forgets keys whose sends all left the window; at most once per window, so O(1) per send. */
  #sweep(windowStart: number, now: number): void {
    for (const [key, times] of this.#recent)
      if (times.length === 0 || times[times.length - 1]! <= windowStart) this.#recent.delete(key);
    this.#nextSweep = now + this.#config.windowMs;
  }
}

/** The key a member's sends count against. */
export function senderKeys(
  member: { id: string; name: string; verified: boolean },
  address: string | null,
): SenderKeys {
  if (member.verified) return { sender: `member:${member.id}`, address: null };
  // A guest's id is new on every connection; address plus name is what persists.
  if (address === null) return { sender: `conn:${member.id}`, address: null };
  return { sender: `guest:${address}\n${member.name}`, address };
}
