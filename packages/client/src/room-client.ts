/**
 * @module room-client
 * A typed client for one chat room, for the room page and for any other
 * frontend or Node script, used the way pusher-js or partysocket are:
 *
 *     const client = new RoomClient({ url: "https://chat.example.com", room: "lobby" });
 *     client.on("chat", (m) => console.log(`${m.user}: ${m.message}`));
 *     client.on("frame", (f) => f.type === "presence" && console.log(f));
 *     client.on("members", (page) => page.next && client.requestMembers(page.next));
 *     client.send("hello");
 *
 * What it does for you (docs/protocol.md):
 * - reconnects with backoff and jitter, and resumes each time with
 *   `since=<last id held>`, so nothing is missed and nothing arrives twice
 *   (ids already held are dropped, not emitted);
 * - gives every message a `clientId` and sends the ones not yet echoed again
 *   after a reconnect: the room stores each once;
 * - acknowledges what it has received (`{"type":"ack","lastId"}`) so a room
 *   that tracks slow members keeps it (within a second, at once after a burst);
 * - keeps the socket alive with `ping`, and reconnects when no `pong` comes;
 * - stops retrying when the room refuses for good: removed or banned by a
 *   moderator, or an upgrade refused with a 4xx (it asks the same URL over
 *   plain GET for the reason, since a WebSocket never says).
 *
 * No DOM needed: in Node 22+ the global WebSocket and fetch are used; pass
 * `WebSocket` (e.g. the `ws` package) for older runtimes.
 */
import ReconnectingWebSocket from "partysocket/ws";
import {
  CLOSE_BANNED,
  CLOSE_REMOVED,
  type ChatMessage,
  type ErrorFrame,
  type MembersFrame,
  type ServerFrame,
  type WelcomeFrame,
} from "./protocol.ts";
import { MessageHistory } from "./history.ts";

/** Keep-alive: proxies drop idle sockets, and a dead link only shows when we send. */
const PING_EVERY_MS = 25_000;
const PONG_WITHIN_MS = 10_000;
/** Acknowledge within a second, or at once after a burst. */
const ACK_WITHIN_MS = 1000;
const ACK_AFTER_CHARS = 128 * 1024;
const ACK_AFTER_MESSAGES = 100;

export type ConnectionState = "connecting" | "live" | "reconnecting" | "refused" | "closed";

export interface RoomClientOptions {
  /** The service: `https://chat.example.com`, or `http://localhost:8787` under `npm run dev`. */
  url: string | URL;
  /** The room, as people read it (`技术交流`); it is percent-encoded for you. */
  room: string;
  /** Display name; null or absent: the room makes one up. Ignored with a token. */
  name?: string | null;
  /** A join token from your backend (docs/identity.md); required for `private-` rooms. */
  token?: string | null;
  /** A secret key that keeps a guest's member id across connections (`?guest=`). */
  guest?: string | null;
  /** Several chat frames per WebSocket message when the room is busy. Default true. */
  batch?: boolean;
  /** A WebSocket class, for runtimes without a global one. */
  WebSocket?: unknown;
  /** First reconnect delay, drawn at every attempt; default 0.5 to 2 s. */
  minReconnectDelayMs?: () => number;
}

export interface StatusChange {
  state: ConnectionState;
  /** Why: the server's refusal, or its answer while we keep retrying (5xx, 429). */
  reason: string | null;
  /** Failed attempts since the last open. */
  attempts: number;
}

export interface RoomClientEvents {
  /** Every frame from the room, in order (presence, member pages, notices, errors, chat), except chat messages already held. */
  frame: ServerFrame;
  /** A chat message the client did not hold yet (replays of held ids are dropped). */
  chat: ChatMessage;
  /** The first frame of each connection: who you are and the room's last id. */
  welcome: WelcomeFrame;
  /** A page of the member list, the answer to `requestMembers()`. */
  members: MembersFrame;
  /** A message or frame the room refused; `clientId` names a message of yours. */
  error: ErrorFrame;
  status: StatusChange;
}

type Listener<T> = (value: T) => void;

export class RoomClient {
  readonly room: string;
  readonly history = new MessageHistory();
  #options: RoomClientOptions;
  #name: string | null;
  #socket: ReconnectingWebSocket;
  #listeners = new Map<keyof RoomClientEvents, Set<Listener<never>>>();
  /** Messages sent but not echoed yet, by clientId: sent again after each reconnect. */
  #unacked = new Map<string, string>();
  #state: ConnectionState = "connecting";
  #reason: string | null = null;
  #attempts = 0;
  #opened = false;
  #me: WelcomeFrame["you"] | null = null;
  /** The room epoch of the ids held (from the last welcome), sent back with `since`. */
  #epoch: number | null = null;
  #pingTimer: ReturnType<typeof setInterval> | undefined;
  #pongTimer: ReturnType<typeof setTimeout> | undefined;
  #ackTimer: ReturnType<typeof setTimeout> | undefined;
  #charsSinceAck = 0;
  #messagesSinceAck = 0;
  /** Messages sent while the socket was down: they go out when it opens. */
  #queued = 0;

  constructor(options: RoomClientOptions) {
    this.#options = options;
    this.room = options.room;
    this.#name = options.name ?? null;
    const minDelay = options.minReconnectDelayMs ?? (() => 500 + Math.random() * 1500);
    this.#socket = new ReconnectingWebSocket(() => this.#socketUrl(), undefined, {
      // partysocket reads its options at every attempt: a new jittered delay
      // each time, so a room full of clients does not return in one burst.
      get minReconnectionDelay() {
        return minDelay();
      },
      maxReconnectionDelay: 15_000,
      reconnectionDelayGrowFactor: 1.6,
      connectionTimeout: 6_000,
      WebSocket: options.WebSocket,
      // Removed or banned by a moderator: coming straight back would defeat it.
      shouldReconnectOnClose: (event) =>
        event.code !== CLOSE_REMOVED && event.code !== CLOSE_BANNED,
    });
    this.#socket.addEventListener("open", () => this.#onOpen());
    this.#socket.addEventListener("close", (event) => this.#onClose(event));
    this.#socket.addEventListener("message", (event) => this.#onMessage(event.data));
  }

  /** Listens for an event; returns a function that stops listening. */
  on<K extends keyof RoomClientEvents>(
    type: K,
    listener: Listener<RoomClientEvents[K]>,
  ): () => void {
    let set = this.#listeners.get(type);
    if (!set) this.#listeners.set(type, (set = new Set()));
    set.add(listener as Listener<never>);
    return () => set.delete(listener as Listener<never>);
  }

  /**
   * Sends a chat message and returns its clientId. While the socket is down
   * it is kept and sent on reconnect; until the room echoes it back (a chat
   * frame with the same clientId), it is sent again after every reconnect.
   */
  send(message: string): string {
    const clientId = newClientId();
    const frame = JSON.stringify({ message, clientId });
    this.#unacked.set(clientId, frame);
    if (this.#isOpen()) this.#socket.send(frame);
    else this.#queued++;
    return clientId;
  }

  /**
   * Asks for a page of the member list (up to 100 in join order): with no
   * cursor the first, else the one after it (the welcome's `more`, a page's
   * `next`). The answer comes as a `members` event; cursors survive joins
   * and leaves. False while the socket is down: nothing is queued, and the
   * next welcome starts the list over anyway.
   */
  requestMembers(cursor: string | null = null): boolean {
    return this.sendFrame({ type: "members", cursor });
  }

  /** Sends any client frame as is; false while down. */
  sendFrame(frame: object): boolean {
    if (!this.#isOpen()) return false;
    this.#socket.send(JSON.stringify(frame));
    return true;
  }

  /** Rejoins under another display name; `since` keeps the log continuous. */
  rename(name: string | null): void {
    this.#name = name;
    this.#reason = null;
    this.#setState("reconnecting");
    this.#socket.reconnect(1000, "name changed");
  }

  /** Reconnects now instead of waiting for the backoff (back online, page restored). */
  reconnectNow(): void {
    if (this.#state === "refused" || this.#state === "closed") return;
    if (!this.#isOpen()) this.#socket.reconnect();
  }

  /**
   * Closes the socket for now (a page going into the back-forward cache);
   * `reconnectNow()` opens it again, resuming with `since`.
   */
  pause(): void {
    this.#stopTimers();
    this.#socket.close(1000, "paused");
  }

  /** Closes for good: no more reconnects. */
  close(): void {
    this.#stopTimers();
    this.#setState("closed");
    this.#socket.close(1000, "client closed");
  }

  get state(): ConnectionState {
    return this.#state;
  }

  /** Who the room says you are (from the last welcome), or null before it. */
  get me(): WelcomeFrame["you"] | null {
    return this.#me;
  }

  /** The name the next connection joins with. */
  get name(): string | null {
    return this.#name;
  }

  /** Messages sent and not echoed back yet. */
  get pending(): number {
    return this.#unacked.size;
  }

  /** Messages sent while the socket was down, waiting for it to open. */
  get queued(): number {
    return this.#queued;
  }

  /** Failed attempts since the socket last opened. */
  get attempts(): number {
    return this.#attempts;
  }

  /** Why the room refused, or what it answered while we keep retrying; null when all is well. */
  get reason(): string | null {
    return this.#reason;
  }

  /** The socket URL of the next attempt (also what a plain GET diagnoses). */
  joinUrl(): URL {
    const url = new URL(`/ws/chat/${encodeURIComponent(this.room)}/`, this.#options.url);
    url.searchParams.set("rich", "1");
    if (this.#options.batch !== false) url.searchParams.set("batch", "1");
    if (this.#name !== null) url.searchParams.set("name", this.#name);
    if (this.#options.token) url.searchParams.set("token", this.#options.token);
    else if (this.#options.guest) url.searchParams.set("guest", this.#options.guest);
    const since = this.history.since;
    if (since !== null) {
      url.searchParams.set("since", String(since));
      // Ids are comparable only within one epoch: a room reset since then
      // answers history_reset instead of replaying the new ids as if old.
      if (this.#epoch !== null) url.searchParams.set("epoch", String(this.#epoch));
    }
    return url;
  }

  #socketUrl(): string {
    const url = this.joinUrl();
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    return url.href;
  }

  #isOpen(): boolean {
    return this.#socket.readyState === this.#socket.OPEN;
  }

  #emit<K extends keyof RoomClientEvents>(type: K, value: RoomClientEvents[K]): void {
    for (const listener of this.#listeners.get(type) ?? [])
      (listener as Listener<typeof value>)(value);
  }

  #setState(state: ConnectionState): void {
    this.#state = state;
    this.#emit("status", { state, reason: this.#reason, attempts: this.#attempts });
  }

  #onOpen(): void {
    this.#opened = true;
    this.#reason = null;
    this.#attempts = 0;
    this.#queued = 0;
    clearInterval(this.#pingTimer);
    this.#pingTimer = setInterval(() => this.#ping(), PING_EVERY_MS);
    for (const frame of this.#unacked.values()) this.#socket.send(frame);
    // "live" comes with the welcome; until then the room is still replaying.
    this.#emit("status", { state: this.#state, reason: null, attempts: 0 });
  }

  #onClose(event: { code: number; reason: string }): void {
    this.#stopTimers();
    if (this.#state === "closed") return;
    if (event.code === CLOSE_REMOVED || event.code === CLOSE_BANNED) {
      this.#reason = event.reason || "a moderator removed you from this room";
      this.#setState("refused");
      return;
    }
    if (this.#state === "refused") return;
    this.#attempts++;
    const diagnosing = !this.#opened;
    this.#opened = false;
    this.#setState("reconnecting");
    if (diagnosing) void this.#diagnose();
  }

  /**
   * A WebSocket never says why an upgrade failed. The Worker answers a plain
   * GET of the same URL with the reason (426 when nothing is wrong); a 4xx
   * stops the retries, since retrying would only be refused again.
   */
  async #diagnose(): Promise<void> {
    let res: Response;
    try {
      res = await fetch(this.joinUrl(), {
        cache: "no-store",
        headers: { Accept: "application/json" },
      });
    } catch {
      return; // Unreachable: keep retrying.
    }
    if (res.status < 400 || res.status === 426) return;
    const body = (await res.json().catch(() => null)) as { error?: unknown } | null;
    const reason =
      typeof body?.error === "string" ? body.error : `the server answered HTTP ${res.status}`;
    if (this.#isOpen() || this.#state === "closed") return;
    this.#reason = reason;
    if (res.status >= 500 || res.status === 429) {
      this.#setState("reconnecting"); // Maybe temporary: keep retrying, and say why.
    } else {
      this.#socket.close(1000, "refused");
      this.#setState("refused");
    }
  }

  #onMessage(data: unknown): void {
    if (typeof data !== "string") return;
    if (data === "pong") {
      clearTimeout(this.#pongTimer);
      return;
    }
    // With batch=1 one message may carry several frames, one per line.
    const lines = data.split("\n");
    for (const line of lines) {
      let frame: ServerFrame;
      try {
        frame = JSON.parse(line) as ServerFrame;
      } catch {
        continue;
      }
      this.#handle(frame);
    }
    this.#received(data.length, lines.length);
  }

  #handle(frame: ServerFrame): void {
    switch (frame.type) {
      case "welcome":
        this.#me = frame.you;
        this.#name ??= frame.you.name;
        this.history.welcome(frame.lastId);
        this.#epoch = frame.epoch;
        this.#state = "live";
        this.#emit("status", { state: "live", reason: null, attempts: 0 });
        this.#emit("welcome", frame);
        break;
      case "history_reset":
        this.history.reset(frame.lastId);
        break;
      case "chat":
        if (frame.clientId !== undefined) this.#unacked.delete(frame.clientId);
        if (!this.history.add(frame)) return; // Held already: a replay overlap.
        this.#emit("chat", frame);
        break;
      case "members":
        this.#emit("members", frame);
        break;
      case "error":
        if (frame.clientId !== undefined) this.#unacked.delete(frame.clientId);
        this.#emit("error", frame);
        break;
    }
    this.#emit("frame", frame);
  }

  #received(chars: number, messages: number): void {
    this.#charsSinceAck += chars;
    this.#messagesSinceAck += messages;
    if (this.#charsSinceAck >= ACK_AFTER_CHARS || this.#messagesSinceAck >= ACK_AFTER_MESSAGES)
      this.#ack();
    else this.#ackTimer ??= setTimeout(() => this.#ack(), ACK_WITHIN_MS);
  }

  /** Tells the room the newest id this client holds. */
  #ack(): void {
    clearTimeout(this.#ackTimer);
    this.#ackTimer = undefined;
    this.#charsSinceAck = 0;
    this.#messagesSinceAck = 0;
    const lastId = this.history.since;
    if (lastId !== null && this.#isOpen())
      this.#socket.send(JSON.stringify({ type: "ack", lastId }));
  }

  #ping(): void {
    if (!this.#isOpen()) return;
    this.#socket.send("ping");
    clearTimeout(this.#pongTimer);
    // No answer: the link is dead without having told us. Start over.
    this.#pongTimer = setTimeout(() => this.#socket.reconnect(), PONG_WITHIN_MS);
  }

  #stopTimers(): void {
    clearInterval(this.#pingTimer);
    clearTimeout(this.#pongTimer);
    clearTimeout(this.#ackTimer);
    this.#ackTimer = undefined;
  }
}

/** Random, and available on plain-http pages too (unlike crypto.randomUUID). */
function newClientId(): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(12)), (b) =>
    b.toString(16).padStart(2, "0"),
  ).join("");
}
