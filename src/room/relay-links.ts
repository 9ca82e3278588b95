/**
 * @module relay-links
 * The room's side of a room spread over relay objects (ROOM_RELAYS > 1). A
 * member's socket held by a relay is a RemoteSocket here: the room's usual
 * steps (send an answer, close on a kick) work on it unchanged, and what
 * they send goes to the relay with the next push. Each stored frame is
 * pushed once per relay that has members, never once per member: one RPC
 * per relay per tick, one at a time per relay so a relay sees them in order.
 * A push that fails is retried as a bare "you are behind" push: the relay
 * fills the gap from the room (RoomRelay.push), so nothing is queued forever.
 */

/** The object name of relay `index` of `room`; room names never contain '#'. */
export function relayName(room: string, index: number): string {
  return `${room}#relay-${index}`;
}

/** What the room sends a relay in one RPC. */
export interface RelayPush {
  /** The room's epoch: ids are comparable only within one. */
  epoch: number;
  /** The room's last id when this push was sent: a relay behind it fills the gap. */
  lastId: number;
  /** Stored chat frames, serialised once, in id order. */
  frames: [id: number, frame: string][];
  /** Presence frames: `window` for rich sockets, `all` for those that asked for every member. */
  presence?: { window: string; all: string }[];
  /**
   * Frames for one socket (errors, receipts, member pages), in order, by
   * socket id, each with the room's last id when it was made: it goes out
   * after that frame and before the next.
   */
  answers?: [sid: string, frame: string, afterId: number][];
  /** Sockets the room let go of (kick, ban, unknown), to close with this code. */
  closes?: [sid: string, code: number, reason: string][];
}

/** The RPC surface of a relay the room calls (RoomRelay implements it). */
export interface RelayStub {
  push(push: RelayPush): Promise<void>;
  roster(): Promise<RelayMember[]>;
}

/** A socket a relay holds, as it reports it when the room wakes. */
export interface RelayMember {
  sid: string;
  attachment: unknown;
}

/** How long the room waits for a relay's answer before it counts the call as failed. */
export const RELAY_CALL_TIMEOUT_MS = 5_000;
/** A failed push is retried after this, doubling up to RETRY_MAX_MS. */
const RETRY_MIN_MS = 100;
const RETRY_MAX_MS = 5_000;

/** A call between objects that got no answer in time (the other may still carry it out). */
export class CallTimeout extends Error {
  override name = "CallTimeout";
}

/** Rejects with CallTimeout when `promise` takes longer than `ms`: every call between objects has a deadline. */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new CallTimeout(`${what} timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => {
    if (timer !== undefined) clearTimeout(timer);
  });
}

/** A member socket held by a relay; quacks like the WebSocket the room's steps expect. */
export class RemoteSocket {
  /** The relay measures what its socket buffers; the room sees nothing here. */
  readonly bufferedAmount = 0;

  constructor(
    readonly relay: number,
    readonly sid: string,
    private readonly links: RelayLinks,
  ) {}

  /** Queues a frame for this socket alone (an answer): it goes out with the next push. */
  send(frame: string): void {
    this.links.answer(this, frame);
  }

  /** Asks the relay to close the socket: it goes out with the next push. */
  close(code: number, reason: string): void {
    this.links.close(this, code, reason);
  }

  /** The relay keeps the attachment (it is sent with the join answer); nothing to do here. */
  serializeAttachment(_attachment: unknown): void {}
}

interface Outbox {
  frames: [number, string][];
  presence: { window: string; all: string }[];
  answers: [string, string, number][];
  closes: [string, number, string][];
  /** Failed pushes in a row, for the backoff. */
  failures: number;
}

export class RelayLinks {
  #stub: (index: number) => RelayStub;
  #state: () => { epoch: number; lastId: number };
  #onError: (relay: number, err: unknown) => void;
  /** Member sockets per relay: frames go only to relays that have some. */
  #members = new Map<number, number>();
  #outboxes = new Map<number, Outbox>();
  /** Relays with a push in flight: the next waits, so pushes arrive in order. */
  #inFlight = new Set<number>();
  #flushScheduled = false;

  constructor(
    stub: (index: number) => RelayStub,
    state: () => { epoch: number; lastId: number },
    onError: (relay: number, err: unknown) => void,
  ) {
    this.#stub = stub;
    this.#state = state;
    this.#onError = onError;
  }

  /** Relays that hold members now, with how many sockets each (for the stats API). */
  get relays(): { relay: number; sockets: number }[] {
    return [...this.#members]
      .filter(([, n]) => n > 0)
      .map(([relay, sockets]) => ({ relay, sockets }))
      .toSorted((a, b) => a.relay - b.relay);
  }

  /** A relay socket became a member. */
  added(ws: RemoteSocket): void {
    this.#members.set(ws.relay, (this.#members.get(ws.relay) ?? 0) + 1);
  }

  /** A relay socket stopped being a member. */
  removed(ws: RemoteSocket): void {
    const left = (this.#members.get(ws.relay) ?? 1) - 1;
    if (left > 0) this.#members.set(ws.relay, left);
    else this.#members.delete(ws.relay);
  }

  /** A stored chat frame for every relay with members. */
  frame(id: number, frame: string): void {
    for (const relay of this.#members.keys()) this.#outbox(relay).frames.push([id, frame]);
    this.#schedule();
  }

  /** Presence frames for every relay with members. */
  presence(window: string, all: string): void {
    for (const relay of this.#members.keys()) this.#outbox(relay).presence.push({ window, all });
    this.#schedule();
  }

  answer(ws: RemoteSocket, frame: string): void {
    this.#outbox(ws.relay).answers.push([ws.sid, frame, this.#state().lastId]);
    this.#schedule();
  }

  close(ws: RemoteSocket, code: number, reason: string): void {
    this.#outbox(ws.relay).closes.push([ws.sid, code, reason]);
    this.#schedule();
  }

  /** Asks every relay up to `count` which member sockets it holds (after the room woke). */
  async rosters(count: number): Promise<{ relay: number; members: RelayMember[] }[]> {
    const asked = Array.from({ length: count }, (_, relay) =>
      withTimeout(this.#stub(relay).roster(), RELAY_CALL_TIMEOUT_MS, "relay roster").then(
        (members) => ({ relay, members }),
        (err: unknown) => {
          // Its members are unknown here: the room answers their next frame
          // with a close, and they rejoin (RoomRelay).
          this.#onError(relay, err);
          return { relay, members: [] };
        },
      ),
    );
    return Promise.all(asked);
  }

  #outbox(relay: number): Outbox {
    let box = this.#outboxes.get(relay);
    if (!box) {
      box = { frames: [], presence: [], answers: [], closes: [], failures: 0 };
      this.#outboxes.set(relay, box);
    }
    return box;
  }

  /** Frames of one turn share a push. */
  #schedule(): void {
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    setTimeout(() => {
      this.#flushScheduled = false;
      for (const relay of this.#outboxes.keys()) this.#send(relay);
    }, 0);
  }

  #send(relay: number): void {
    const box = this.#outboxes.get(relay);
    if (!box || this.#inFlight.has(relay)) return;
    this.#outboxes.delete(relay);
    const { epoch, lastId } = this.#state();
    const push: RelayPush = { epoch, lastId, frames: box.frames };
    if (box.presence.length > 0) push.presence = box.presence;
    if (box.answers.length > 0) push.answers = box.answers;
    if (box.closes.length > 0) push.closes = box.closes;
    this.#inFlight.add(relay);
    withTimeout(this.#stub(relay).push(push), RELAY_CALL_TIMEOUT_MS, "relay push").then(
      () => {
        this.#inFlight.delete(relay);
        if (this.#outboxes.has(relay)) this.#send(relay);
      },
      (err: unknown) => {
        this.#onError(relay, err);
        // The frames are the room's to give again: the retry says how far the
        // room is, and the relay fills the gap from it. Answers and closes
        // are for one socket each and go again as they are.
        const again = this.#outbox(relay);
        again.answers.unshift(...box.answers);
        again.closes.unshift(...box.closes);
        again.failures = box.failures + 1;
        const delay = Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** box.failures);
        setTimeout(() => {
          this.#inFlight.delete(relay);
          // A relay left with no members and nothing to close needs no retry.
          const pending = this.#outboxes.get(relay);
          if (
            !this.#members.has(relay) &&
            pending &&
            pending.frames.length === 0 &&
            pending.answers.length === 0 &&
            pending.closes.length === 0
          )
            this.#outboxes.delete(relay);
          this.#send(relay);
        }, delay);
      },
    );
  }
}
