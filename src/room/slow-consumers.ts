/**
 * @module slow-consumers
 * Bounds what a member that does not keep up can make the room hold. Two
 * signals: the runtime's `bufferedAmount` (bytes accepted by send() but not
 * yet handed on), and application acknowledgements, `{"type":"ack","lastId"}`,
 * from clients that send them. A member over the budget on either is closed
 * with CLOSE_SLOW, and resumes with `since`, losing nothing.
 *
 * Acks exist because bufferedAmount alone can read 0 while a peer reads
 * nothing: the next hop (wrangler dev's proxy, workerd issue #988) takes the
 * bytes. Everything the room sends a member counts: live chat (one counter
 * for the whole room, so the broadcast does no per-member work) and the
 * frames sent to that member alone (history at the join, receipts, errors,
 * presence, member pages). A room-wide total of what members hold unread
 * bounds the room however many sockets strangers open.
 */

/** An ack frame's id, or null when `data` is not an ack (then it is parsed as a chat frame). */
export function parseAck(data: string | ArrayBuffer): number | null {
  // Cheap test first: chat frames are far more common and never short acks.
  if (typeof data !== "string" || data.length > 100 || !data.includes("ack")) return null;
  let frame: unknown;
  try {
    frame = JSON.parse(data);
  } catch {
    return null;
  }
  const { type, lastId } = (typeof frame === "object" && frame !== null ? frame : {}) as {
    type?: unknown;
    lastId?: unknown;
  };
  return type === "ack" && Number.isSafeInteger(lastId) && (lastId as number) >= 0
    ? (lastId as number)
    : null;
}

/**
 * A member that never acknowledges gives no sign of reading: it may take this
 * many budgets of live chat per connection, then it is closed like a slow one.
 * Generous, because the tutorial's bare client never acks and never resumes;
 * it only applies to a room busy enough to send this much in one visit.
 */
export const NEVER_ACKED_FACTOR = 8;

/** How often (in characters sent) the room looks for members over the budget. */
const CHECK_EVERY = 64 * 1024;

interface Reader {
  /** `#sent` when the member joined (or the room woke): nothing before counts. */
  joinedAt: number;
  /** The last id sent when it joined. */
  joinedId: number;
  /** `#sent` as of the newest id the member acknowledged; null for a member that never has. */
  ackedAt: number | null;
  ackedId: number;
  /** Characters sent to this member alone (history, answers, presence, pages), not yet acknowledged. */
  own: number;
  /** The room's last id when `own` last grew: an ack of it covers them all. */
  ownUpTo: number;
  /**
   * The history sent at the join, until the member acknowledges past it:
   * its limit is raised by this much, so a resume bigger than the budget
   * never closes a member that reads.
   */
  grace: number;
  /**
   * The history of a plain join (HISTORY_ON_JOIN, what every bare client
   * gets) of a member that has never acked: left out of the room's total,
   * or a big room of tutorial clients would count as holding it forever.
   */
  exempt: number;
}

export interface SlowConsumerLimits {
  /** Characters a member may be behind. */
  budget: number;
  /**
   * Characters all members together may hold unread: what members that ack
   * have not acknowledged, and what the room sent members that never ack
   * beyond live chat (their live chat is bounded per connection).
   */
  roomBudget: number;
  /**
   * Messages a member that acks may be behind: beyond the history the room
   * keeps, closing it would lose it messages, so it is closed before that.
   */
  maxLagMessages: number;
}

export class SlowConsumers {
  readonly #budget: number;
  readonly #roomBudget: number;
  readonly #maxLag: number;
  #lastId = 0;
  /** Characters of live chat frames sent to each member so far (every member gets every one). */
  #sent = 0;
  #checkedAt = 0;
  #checkedId = 0;
  /** `#sent` just after each recent id, as far back as a member within budget can be. */
  readonly #sentAfter = new Map<number, number>();
  readonly #readers = new WeakMap<WebSocket, Reader>();
  /** Room-wide sums, kept as members come, ack and go, so the total costs O(1) per message. */
  #ownTotal = 0;
  #exemptTotal = 0;
  #ackers = 0;
  /** Sum over members that ack of the `#sent` their unacknowledged live chat starts at. */
  #ackerBases = 0;

  /** `lastId`: the room's newest id when this object starts (after a wake, not 0). */
  constructor(limits: SlowConsumerLimits, lastId: number) {
    this.#budget = limits.budget;
    this.#roomBudget = limits.roomBudget;
    this.#maxLag = limits.maxLagMessages;
    this.#lastId = lastId;
    this.#checkedId = lastId;
  }

  /** Records a chat frame sent to everybody; true when it is time to look for slow members. */
  sent(id: number, chars: number): boolean {
    this.#sent += chars;
    this.#lastId = id;
    this.#sentAfter.set(id, this.#sent);
    // Map order is insertion order, which is id order: drop what no member in budget can still ack.
    for (const [old, after] of this.#sentAfter) {
      if (after >= this.#sent - this.#budget) break;
      this.#sentAfter.delete(old);
    }
    // Often enough that nobody gets far past either limit; rarely enough to cost nothing.
    const due =
      this.#sent - this.#checkedAt >= Math.min(CHECK_EVERY, this.#budget / 8) ||
      id - this.#checkedId >= Math.max(1, Math.floor(this.#maxLag / 8));
    if (!due) return false;
    this.#checkedId = id;
    this.#checkedAt = this.#sent;
    return true;
  }

  /**
   * Starts counting a member from now; `history`: characters of history sent
   * with its join, `plain` when that was the latest HISTORY_ON_JOIN rather
   * than what a `since` asked for. True when the room is now over its budget.
   */
  joined(ws: WebSocket, history: number, plain = false): boolean {
    const reader = this.#newReader();
    this.#readers.set(ws, reader);
    reader.grace = history;
    this.#addOwn(reader, history);
    if (plain) {
      reader.exempt = history;
      this.#exemptTotal += history;
    }
    return this.roomOver();
  }

  /** Records a frame sent to this member alone; true when it or the room is now over budget. */
  own(ws: WebSocket, chars: number): boolean {
    this.#addOwn(this.#reader(ws), chars);
    return this.roomOver() || this.overBudget(ws) !== null;
  }

  /** Forgets a member that left: what it held no longer counts for the room. */
  left(ws: WebSocket): void {
    const reader = this.#readers.get(ws);
    if (!reader) return;
    this.#readers.delete(ws);
    this.#ownTotal -= reader.own;
    this.#exemptTotal -= reader.exempt;
    if (reader.ackedAt !== null) {
      this.#ackers--;
      this.#ackerBases -= liveBase(reader);
    }
  }

  /** Characters all members hold unread, as counted for the room-wide budget. */
  get roomHeld(): number {
    return this.#ownTotal - this.#exemptTotal + this.#ackers * this.#sent - this.#ackerBases;
  }

  /** Whether the members together hold more than the room-wide budget. */
  roomOver(): boolean {
    return this.roomHeld > this.#roomBudget;
  }

  /** Characters this member holds unread, as counted for the room-wide budget. */
  held(ws: WebSocket): number {
    const reader = this.#reader(ws);
    return (
      reader.own - reader.exempt + (reader.ackedAt === null ? 0 : this.#sent - liveBase(reader))
    );
  }

  /**
   * A member acknowledged every message up to `lastId`. An id the room does
   * not know (older than the window, sent before the member joined or before
   * the room woke, or not sent yet) moves nothing, but makes the member one
   * that acknowledges: from now on it is held to the budget.
   */
  ack(ws: WebSocket, lastId: number): void {
    const reader = this.#reader(ws);
    const after = this.#sentAfter.get(lastId) ?? 0;
    if (reader.ackedAt === null) {
      // It acks: its history counts for the room until acknowledged.
      this.#ackers++;
      this.#exemptTotal -= reader.exempt;
      reader.exempt = 0;
    } else this.#ackerBases -= liveBase(reader);
    reader.ackedAt = Math.max(reader.ackedAt ?? 0, after);
    this.#ackerBases += liveBase(reader);
    if (lastId > this.#lastId) return;
    reader.ackedId = Math.max(reader.ackedId, lastId);
    if (lastId >= reader.joinedId) reader.grace = 0;
    if (lastId >= reader.ownUpTo) {
      this.#ownTotal -= reader.own;
      reader.own = 0;
    }
  }

  /** Why this member is over the budget, or null. */
  overBudget(ws: WebSocket): string | null {
    const buffered = ws.bufferedAmount ?? 0;
    if (buffered > this.#budget) return `${buffered} bytes not yet sent`;
    const reader = this.#reader(ws);
    if (reader.ackedAt === null) {
      const sent = this.#sent - reader.joinedAt + reader.own;
      return sent > this.#budget * NEVER_ACKED_FACTOR + reader.grace
        ? `${sent} characters sent, none acknowledged`
        : null;
    }
    const unacked = this.#sent - liveBase(reader) + reader.own;
    if (unacked > this.#budget + reader.grace) return `${unacked} characters not acknowledged`;
    const lag = this.#lastId - Math.max(reader.ackedId, reader.joinedId);
    return lag > this.#maxLag ? `${lag} messages not acknowledged` : null;
  }

  #newReader(): Reader {
    return {
      joinedAt: this.#sent,
      joinedId: this.#lastId,
      ackedAt: null,
      ackedId: 0,
      own: 0,
      ownUpTo: this.#lastId,
      grace: 0,
      exempt: 0,
    };
  }

  #addOwn(reader: Reader, chars: number): void {
    reader.own += chars;
    reader.ownUpTo = this.#lastId;
    this.#ownTotal += chars;
  }

  #reader(ws: WebSocket): Reader {
    let reader = this.#readers.get(ws);
    if (!reader) {
      // Joined before the room last woke from hibernation: count from now.
      reader = this.#newReader();
      this.#readers.set(ws, reader);
    }
    return reader;
  }
}

/** Where a member that acks starts to hold live chat: its last ack, or its join. */
function liveBase(reader: Reader): number {
  return Math.max(reader.ackedAt ?? 0, reader.joinedAt);
}
