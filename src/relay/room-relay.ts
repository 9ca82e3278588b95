/**
 * @module room-relay
 * One of the K objects a big room's sockets are spread over (ROOM_RELAYS > 1),
 * named `<room>#relay-<i>`. The room object still orders, stores and
 * serialises; a relay holds sockets and fans out: it asks the room to admit
 * each joiner, forwards its members' frames to the room in batches, and sends
 * the frames the room pushes (once per relay, already serialised) to its
 * sockets without parsing them. It remembers the last id it forwarded; a
 * push that starts past it (a failed or late push, an eviction) is preceded
 * by the missing frames, fetched from the room, so no member sees a gap, a
 * duplicate or a reorder. A member resuming with `since` gets what it
 * missed from the relay's recent frames when they reach back that far; the
 * room then sends only what the relay lacks.
 */
import { DurableObject } from "cloudflare:workers";
import { roomConfig, type RoomConfig } from "../config";
import { logger, type Log } from "../log";
import { CLOSE_ROOM_UNREACHABLE, CLOSE_SEND_FAILED, CLOSE_SLOW } from "../protocol";
import {
  decodeJoin,
  HISTORY_FRAMES_PER_BATCH,
  JOIN_HEADER,
  type Attachment,
  type JoinRequest,
  type RelayHeld,
  type RelayJoinAnswer,
} from "../room/chat-room";
import { FanOut, tagsFor } from "../room/fan-out";
import { CallTimeout, type RelayMember, type RelayPush, withTimeout } from "../room/relay-links";
import { parseAck, SlowConsumers } from "../room/slow-consumers";
import { closeQuietly, trySend } from "../room/sockets";
import { toHex } from "../text";

/** What a relay keeps on each socket: the room's attachment and the socket's id here. */
interface RelayAttachment extends Attachment {
  sid: string;
}

/** How long a relay waits for the room before it gives up on a call. */
export const ROOM_CALL_TIMEOUT_MS = 10_000;
/** Serialised chat frames kept in memory for joiners and gap checks. */
const RECENT_FRAMES = 256;
/** Leaves the room did not take are tried again after this, a few times. */
const LEAVE_RETRY_MS = 1_000;
const LEAVE_RETRIES = 10;
/** Storage key of the last id forwarded: survives an eviction, deleted when the relay empties. */
const LAST_KEY = "last";
const RELAY_MARK = "#relay-";

export class RoomRelay extends DurableObject<Env> {
  #room: string;
  #index: number;
  #config: RoomConfig;
  #log: Log;
  #sessions = new Map<WebSocket, RelayAttachment>();
  #bySid = new Map<string, WebSocket>();
  /** The last id sent to every socket here; null while the relay holds nobody. */
  #last: number | null;
  #epoch: number | null = null;
  /** Frames of ids #recentFirst, #recentFirst + 1, …, #last. */
  #recent: string[] = [];
  #recentFirst = 1;
  #fanOut: FanOut;
  #slow: SlowConsumers;
  #slowCheckScheduled = false;
  /** Pushes and joins run one after another: each sees the last id the one before left. */
  #queue: Promise<unknown> = Promise.resolve();
  /** Members' frames and leaves not yet sent to the room, in order. */
  #outFrames: [string, string | ArrayBuffer][] = [];
  #outLeft: string[] = [];
  #sending = false;
  #sendScheduled = false;
  #leaveRetries = 0;
  /** The last id written to storage, so a batch that moved nothing writes nothing. */
  #saved: number | null;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    const name = ctx.id.name ?? "";
    const at = name.lastIndexOf(RELAY_MARK);
    this.#room = at < 0 ? name : name.slice(0, at);
    this.#index = at < 0 ? 0 : Number(name.slice(at + RELAY_MARK.length));
    this.#config = roomConfig(env);
    this.#log = logger(env.LOG_LEVEL);
    this.#last = ctx.storage.kv.get<number>(LAST_KEY) ?? null;
    // The copy went with the eviction: it starts after the last id sent.
    this.#recentFirst = (this.#last ?? 0) + 1;
    this.#saved = this.#last;
    this.#fanOut = new FanOut(ctx, (ws) => this.#drop(ws, CLOSE_SEND_FAILED, "send failed"));
    this.#slow = this.#newSlowConsumers();
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair("ping", "pong"));
    for (const ws of ctx.getWebSockets()) {
      const attachment = ws.deserializeAttachment() as RelayAttachment | null;
      if (attachment) this.#track(ws, attachment);
    }
  }

  get #roomStub() {
    return this.env.CHAT_ROOM.getByName(this.#room);
  }

  /** Accepts a WebSocket upgrade the Worker sent to this relay, once the room admits it. */
  override async fetch(request: Request): Promise<Response> {
    const join = decodeJoin(request.headers.get(JOIN_HEADER));
    if (!join || request.headers.get("Upgrade")?.toLowerCase() !== "websocket")
      return new Response("expected a WebSocket upgrade from the Worker", { status: 400 });
    const sid = toHex(crypto.getRandomValues(new Uint8Array(8)));
    // Copied now: pushes during the call may move the copy on, and the room
    // answers for what the relay held when it asked.
    const held = this.#heldAfter(join);
    let answer: RelayJoinAnswer;
    try {
      answer = await withTimeout(
        this.#roomStub.relayJoin(
          this.#index,
          sid,
          join,
          held?.range ?? null,
        ) as Promise<RelayJoinAnswer>,
        ROOM_CALL_TIMEOUT_MS,
        "room join",
      );
    } catch (err) {
      this.#error("join", err);
      // No answer: try again later. An error the room threw (its storage
      // failed) fails the upgrade as it would on the room itself (500).
      if (err instanceof CallTimeout) return unreachable();
      throw err;
    }
    if (!answer.ok) {
      const headers: Record<string, string> = { "Content-Type": "application/json" };
      if (answer.retryAfter !== null) headers["Retry-After"] = answer.retryAfter;
      return new Response(answer.body, { status: answer.status, headers });
    }
    // The history: the room's answer says how much of the relay's copy comes first.
    const history = (held?.frames.slice(0, answer.fromRelay) ?? []).concat(answer.history);
    const admitted = answer;
    return this.#inOrder(async () => {
      try {
        return await this.#accept(sid, join, admitted, history);
      } catch (err) {
        // The room counted the member: tell it the socket never opened.
        this.#error("join", err);
        this.#outLeft.push(sid);
        this.#scheduleSend();
        return unreachable();
      }
    });
  }

  async #accept(
    sid: string,
    join: JoinRequest,
    answer: Extract<RelayJoinAnswer, { ok: true }>,
    history: string[],
  ): Promise<Response> {
    // The others first get everything up to the joiner's history, so from
    // here on every socket is at #last and takes the same live frames.
    await this.#catchUp(answer.epoch, answer.lastId);
    const later = await this.#framesBetween(answer.lastId, this.#last ?? answer.lastId);
    this.#fanOut.flush();
    const { 0: client, 1: server } = new WebSocketPair();
    this.ctx.acceptWebSocket(server, tagsFor(join));
    const attachment: RelayAttachment = { ...answer.attachment, sid };
    server.serializeAttachment(attachment);
    this.#track(server, attachment);
    for (const frame of answer.frames) trySend(server, frame);
    // History then live frames, each grouped as the room groups history for batch clients.
    const perFrame = join.batch ? HISTORY_FRAMES_PER_BATCH : 1;
    for (const frames of [history, later])
      for (let i = 0; i < frames.length; i += perFrame)
        trySend(server, perFrame === 1 ? frames[i]! : frames.slice(i, i + perFrame).join("\n"));
    const chars = [history, later].flat().reduce((sum, f) => sum + f.length, 0);
    if (this.#slow.joined(server, chars, join.since === null)) this.#checkSlowSoon();
    this.#saveLast();
    return new Response(null, { status: 101, webSocket: client });
  }

  /**
   * Frames the room stored, serialised once for every relay, with presence
   * and per-socket answers and closes. Frames this relay already sent are
   * skipped; a push past the last id it sent waits for the missing ones.
   */
  async push(push: RelayPush): Promise<void> {
    await this.#inOrder(async () => {
      const fresh = push.frames.filter(([id]) => this.#last === null || id > this.#last);
      try {
        await this.#catchUp(push.epoch, fresh.length > 0 ? fresh[0]![0] - 1 : push.lastId);
      } catch (err) {
        this.#error("gap", err);
        return this.#roomUnreachable();
      }
      // Answers go out in the order the room made them among the frames:
      // an error for a frame a member sent before a message comes first.
      const answers = push.answers ?? [];
      let next = 0;
      for (const [id, frame] of fresh) {
        while (next < answers.length && answers[next]![2] < id) this.#answer(...answers[next++]!);
        this.#forward(id, frame);
      }
      while (next < answers.length) this.#answer(...answers[next++]!);
      for (const { window, all } of push.presence ?? []) {
        let over = false;
        this.#fanOut.rich((ws) => {
          const frame = this.#sessions.get(ws)?.everyone ? all : window;
          if (this.#sessions.has(ws) && this.#slow.own(ws, frame.length)) over = true;
          return frame;
        });
        if (over) this.#checkSlowSoon();
      }
      for (const [sid, code, reason] of push.closes ?? []) {
        const ws = this.#bySid.get(sid);
        if (!ws) continue;
        // The room let go of it already: nothing to report back.
        this.#forget(ws);
        closeQuietly(ws, code, reason);
      }
      this.#saveLast();
    });
  }

  /** The member sockets held here, for a room that woke and rebuilds its roster. */
  async roster(): Promise<RelayMember[]> {
    const held: RelayMember[] = [];
    for (const [ws, attachment] of this.#sessions)
      if (ws.readyState === WebSocket.OPEN) held.push({ sid: attachment.sid, attachment });
    return held;
  }

  override webSocketMessage(ws: WebSocket, data: string | ArrayBuffer): void {
    const session = this.#sessions.get(ws);
    if (!session) return;
    const ack = parseAck(data);
    if (ack !== null) return this.#slow.ack(ws, ack);
    // Everything else is the room's to judge (limits, receipts, the hook).
    this.#outFrames.push([session.sid, data]);
    this.#scheduleSend();
  }

  override webSocketClose(ws: WebSocket, code: number, reason: string): void {
    this.#leave(ws);
    if (code === 1005 || code === 1006 || code === 1015) code = 1000;
    closeQuietly(ws, code, reason);
  }

  override webSocketError(ws: WebSocket): void {
    this.#drop(ws, 1011, "socket error");
  }

  /** Runs `work` after every push and join before it. */
  #inOrder<T>(work: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(work);
    this.#queue = run.catch(() => undefined);
    return run;
  }

  /**
   * Brings every socket here up to `upTo`, fetching what this relay did not
   * get pushed. A relay that holds nobody has nothing to fill: it starts at `upTo`.
   */
  async #catchUp(epoch: number, upTo: number): Promise<void> {
    if (this.#epoch !== null && epoch !== this.#epoch) {
      // Retention deleted the room and ids started again: old ids mean nothing.
      this.#last = this.#sessions.size === 0 ? null : Math.min(this.#last ?? 0, upTo);
      this.#recent = [];
    }
    this.#epoch = epoch;
    if (this.#last === null || this.#sessions.size === 0) {
      this.#restartRecent(Math.max(this.#last ?? 0, upTo));
      // Budgets count from the id the first joiner starts at.
      this.#slow = this.#newSlowConsumers();
      return;
    }
    while (this.#last < upTo) {
      const got = await withTimeout(
        this.#roomStub.framesAfter(this.#last),
        ROOM_CALL_TIMEOUT_MS,
        "room frames",
      );
      if (got.frames.length === 0) break;
      // Trimmed from the room's history meanwhile: those are gone for everyone.
      if (got.firstId > this.#last + 1) this.#restartRecent(got.firstId - 1);
      got.frames.forEach((frame, i) => this.#forward(got.firstId + i, frame));
    }
  }

  /** Sends one stored frame to every socket here. */
  #forward(id: number, frame: string): void {
    if (this.#last !== null && id <= this.#last) return;
    if (this.#last !== null && id !== this.#last + 1) this.#restartRecent(id - 1);
    this.#fanOut.chat(frame);
    this.#recent.push(frame);
    if (this.#recent.length > RECENT_FRAMES) {
      this.#recent.shift();
      this.#recentFirst++;
    }
    this.#last = id;
    if (this.#slow.sent(id, frame.length)) this.#checkSlowSoon();
  }

  #restartRecent(last: number): void {
    this.#last = last;
    this.#recent = [];
    this.#recentFirst = last + 1;
  }

  /**
   * The frames a joiner resuming with `since` missed, when this relay's copy
   * reaches back to `since` + 1 (in the epoch the joiner read `since` in):
   * the room then sends only what comes after them. Null otherwise (an
   * empty, evicted or restarted relay keeps none): the room sends it all.
   */
  #heldAfter(join: JoinRequest): { range: RelayHeld; frames: string[] } | null {
    const since = join.since;
    if (since === null || this.#last === null || this.#epoch === null) return null;
    if (join.epoch != null && join.epoch !== this.#epoch) return null;
    if (!this.#recentReaches(since + 1) || since >= this.#last) return null;
    return {
      range: { epoch: this.#epoch, last: this.#last },
      frames: this.#recent.slice(since + 1 - this.#recentFirst),
    };
  }

  /** Whether the copy holds every id from `id` to #last. */
  #recentReaches(id: number): boolean {
    // The copy is consecutive ids ending at #last; anything else is not trusted.
    const consistent = this.#recent.length === (this.#last ?? 0) - this.#recentFirst + 1;
    return consistent && id >= this.#recentFirst;
  }

  /** Frames after `after` up to `upTo`: from memory when it reaches back, else from the room. */
  async #framesBetween(after: number, upTo: number): Promise<string[]> {
    if (upTo <= after) return [];
    if (this.#recentReaches(after + 1))
      return this.#recent.slice(after + 1 - this.#recentFirst, upTo + 1 - this.#recentFirst);
    const got = await withTimeout(
      this.#roomStub.framesAfter(after),
      ROOM_CALL_TIMEOUT_MS,
      "room frames",
    );
    return got.frames.slice(0, Math.max(0, upTo - got.firstId + 1));
  }

  /** A frame for one socket (an error, a receipt, a member page), counted against its budget. */
  #answer(sid: string, frame: string, _afterId?: number): void {
    const ws = this.#bySid.get(sid);
    if (!ws) return;
    if (!trySend(ws, frame)) return this.#drop(ws, CLOSE_SEND_FAILED, "send failed");
    // A member page: from now on this socket is owed every presence change.
    const session = this.#sessions.get(ws);
    if (session && !session.everyone && frame.startsWith('{"type":"members"')) {
      session.everyone = true;
      ws.serializeAttachment(session);
    }
    if (this.#slow.own(ws, frame.length)) this.#checkSlowSoon();
  }

  /**
   * Sends as soon as this event is done; while a call is in flight the next
   * batch gathers everything that arrives meanwhile, so a busy relay makes
   * one call per round trip, not one per frame.
   */
  #scheduleSend(): void {
    if (this.#sendScheduled) return;
    this.#sendScheduled = true;
    queueMicrotask(() => {
      this.#sendScheduled = false;
      void this.#sendEvents();
    });
  }

  /** Members' frames and leaves of one turn, in one RPC; one RPC at a time, so in order. */
  async #sendEvents(): Promise<void> {
    if (this.#sending || (this.#outFrames.length === 0 && this.#outLeft.length === 0)) return;
    const frames = this.#outFrames;
    const left = this.#outLeft;
    this.#outFrames = [];
    this.#outLeft = [];
    this.#sending = true;
    try {
      await withTimeout(
        this.#roomStub.relayEvents(this.#index, { frames, left }),
        ROOM_CALL_TIMEOUT_MS,
        "room events",
      );
      this.#leaveRetries = 0;
    } catch (err) {
      this.#error("events", err);
      // Leaves are owed to the room's roster: tried again a few times.
      this.#outLeft.unshift(...left);
      this.#roomUnreachable();
      if (++this.#leaveRetries <= LEAVE_RETRIES)
        setTimeout(() => this.#scheduleSend(), LEAVE_RETRY_MS);
      else this.#outLeft = [];
      return;
    } finally {
      this.#sending = false;
    }
    if (this.#outFrames.length > 0 || this.#outLeft.length > 0) this.#scheduleSend();
  }

  /**
   * The room did not answer: every member here is closed with 1013 and
   * reconnects with `since`, rather than waiting on a relay that cannot deliver.
   */
  #roomUnreachable(): void {
    for (const ws of this.#sessions.keys())
      this.#drop(ws, CLOSE_ROOM_UNREACHABLE, "the room cannot be reached: reconnect with since");
  }

  #newSlowConsumers(): SlowConsumers {
    return new SlowConsumers(
      {
        budget: this.#config.maxUnackedBytes,
        roomBudget: this.#config.maxRoomUnreadBytes,
        maxLagMessages: Math.max(1, Math.floor(this.#config.historyLimit / 2)),
      },
      this.#last ?? 0,
    );
  }

  #checkSlowSoon(): void {
    if (this.#slowCheckScheduled) return;
    this.#slowCheckScheduled = true;
    setTimeout(() => {
      this.#slowCheckScheduled = false;
      this.#dropSlow();
    }, 0);
  }

  /** The room's rules, per socket here (see SlowConsumers). */
  #dropSlow(): void {
    for (const ws of this.#sessions.keys()) {
      const reason = this.#slow.overBudget(ws);
      if (reason !== null) this.#dropAsSlow(ws, reason);
    }
    if (!this.#slow.roomOver()) return;
    const heaviest = [...this.#sessions.keys()].toSorted(
      (a, b) => this.#slow.held(b) - this.#slow.held(a),
    );
    for (const ws of heaviest) {
      if (!this.#slow.roomOver()) break;
      this.#dropAsSlow(ws, `relay holds ${this.#slow.roomHeld} characters unread`);
    }
  }

  #dropAsSlow(ws: WebSocket, reason: string): void {
    this.#log("slow", { room: this.#room, relay: this.#index, reason });
    this.#drop(ws, CLOSE_SLOW, "too far behind: reconnect with since");
  }

  #track(ws: WebSocket, attachment: RelayAttachment): void {
    this.#sessions.set(ws, attachment);
    this.#bySid.set(attachment.sid, ws);
  }

  /** Ends a socket here and tells the room it left. */
  #drop(ws: WebSocket, code: number, reason: string): void {
    this.#leave(ws);
    closeQuietly(ws, code, reason);
  }

  #leave(ws: WebSocket): void {
    const session = this.#forget(ws);
    if (!session) return;
    this.#outLeft.push(session.sid);
    this.#scheduleSend();
  }

  /** Forgets a socket; an empty relay keeps nothing (the room tells the next joiner where it is). */
  #forget(ws: WebSocket): RelayAttachment | undefined {
    const session = this.#sessions.get(ws);
    if (!session) return undefined;
    this.#sessions.delete(ws);
    this.#bySid.delete(session.sid);
    this.#slow.left(ws);
    if (this.#sessions.size === 0) {
      this.#last = null;
      this.#recent = [];
      this.ctx.storage.kv.delete(LAST_KEY);
      this.#saved = null;
    }
    return session;
  }

  /** At most one write per batch: the id every socket here has been sent. */
  #saveLast(): void {
    if (this.#sessions.size === 0 || this.#last === null) return;
    if (this.#saved === this.#last) return;
    this.ctx.storage.kv.put(LAST_KEY, this.#last);
    this.#saved = this.#last;
  }

  #error(call: string, err: unknown): void {
    this.#log("error", {
      room: this.#room,
      relay: this.#index,
      call,
      error: err instanceof Error ? err.name : typeof err,
    });
  }
}

/** The answer to an upgrade when the room cannot be reached. */
function unreachable(): Response {
  return Response.json(
    { error: "the room cannot be reached right now: try again" },
    { status: 503, headers: { "Retry-After": "5" } },
  );
}
