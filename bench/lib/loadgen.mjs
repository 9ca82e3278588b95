/**
 * @module loadgen
 * The load generator: WebSocket clients (Node `ws`) that send timestamped,
 * sequenced messages and check every delivery for loss, duplication and
 * order, and the scenarios built from them. The same code drives the
 * project, the minimal room and the raw ws server; only the URL, the inject
 * request and the shape of a received frame differ.
 *
 * A bench message's text is `B<sender>:<seq>:<global>:<sendTime>`: sender is
 * the sender's index in its room, seq its own counter (order and loss are
 * checked per sender), global the run-wide number used to know when every
 * member has it, sendTime performance.now() in this process (latency).
 */
import { Agent, request as httpRequest } from "node:http";
import { performance } from "node:perf_hooks";
import { WebSocket } from "ws";
import { Histogram } from "./stats.mjs";

/**
 * @typedef {object} Target
 * @property {string} name       label in the results
 * @property {"project" | "plain"} protocol  project frames carry {"type":"chat","id",...}; plain ones are echoed as sent
 * @property {number} port
 * @property {string} [token]    BROADCAST_TOKEN for the project's inject API
 * @property {boolean} [batch]   ask for batched frames (?batch=1, newline-separated)
 * @property {boolean} [deflate] offer permessage-deflate like a browser does
 * @property {string} [api]      minimal room variant (?api=cached|accept)
 */

const now = () => performance.now();
const sleep = (/** @type {number} */ ms) => new Promise((r) => setTimeout(r, ms));

/** Counters and histograms of one scenario run, shared by all its clients. */
export class Run {
  constructor() {
    this.latency = new Histogram();
    /** Send → the first receiver of each message, and → the last one (when all have it). */
    this.firstLatency = new Histogram();
    this.lastLatency = new Histogram();
    /** Global message number → receivers still missing it, how many expected it, when it was sent. */
    /** @type {Map<number, { left: number, expect: number, t: number }>} */
    this.inflight = new Map();
    this.nextGlobal = 0;
    this.sent = 0;
    this.expected = 0;
    this.unique = 0;
    this.dup = 0;
    this.reorder = 0;
    this.errors = 0;
    /** @type {string[]} */
    this.errorSamples = [];
    this.frames = 0;
    this.firstSend = 0;
    this.lastDelivery = 0;
    this.abandoned = 0;
    /** Called with the global number when every expected receiver has a message. */
    /** @type {((g: number) => void) | null} */
    this.onComplete = null;
  }

  /** @param {number} g */
  hit(g) {
    const e = this.inflight.get(g);
    if (e === undefined) return;
    if (e.left === e.expect) this.firstLatency.record(now() - e.t);
    if (--e.left === 0) {
      this.lastLatency.record(now() - e.t);
      this.inflight.delete(g);
      this.onComplete?.(g);
    }
  }

  /** @param {number} expect receivers that should get it @returns {number} the global number */
  register(expect) {
    const g = this.nextGlobal++;
    const t = now();
    if (this.firstSend === 0) this.firstSend = t;
    this.sent++;
    this.expected += expect;
    this.inflight.set(g, { left: expect, expect, t });
    return g;
  }

  /** Drops messages that have waited longer than maxAgeMs; returns how many. */
  expire(/** @type {number} */ maxAgeMs) {
    const limit = now() - maxAgeMs;
    let n = 0;
    for (const [g, e] of this.inflight) {
      if (e.t < limit) {
        this.inflight.delete(g);
        this.abandoned++;
        n++;
        this.onComplete?.(g);
      }
    }
    return n;
  }

  /** Waits until every sent message reached all its receivers, or timeoutMs. */
  async drain(/** @type {number} */ timeoutMs) {
    const deadline = now() + timeoutMs;
    while (this.inflight.size > 0 && now() < deadline) await sleep(20);
  }
}

/** A chat room as the load generator sees it: its members and its senders' counters. */
export class Room {
  /** @param {string} name @param {number} senders */
  constructor(name, senders) {
    this.name = name;
    /** @type {Client[]} */
    this.members = [];
    this.seq = new Int32Array(Math.max(1, senders));
  }

  /** Receivers that count for a message sent now. */
  get size() {
    let n = 0;
    for (const c of this.members) if (c.counted) n++;
    return n;
  }
}

/** @param {Target} target @param {string} room @param {{ rich?: boolean }} [o] */
export function wsUrl(target, room, o = {}) {
  const q = new URLSearchParams();
  if (o.rich && target.protocol === "project") q.set("rich", "1");
  if (target.batch) q.set("batch", "1");
  if (target.api) q.set("api", target.api);
  const qs = q.toString();
  return `ws://127.0.0.1:${target.port}/ws/chat/${encodeURIComponent(room)}/${qs ? `?${qs}` : ""}`;
}

let addressCounter = 0;
/**
 * The next loopback address for a client, round robin over 127.0.0.2–254:
 * `wrangler dev` passes it on as CF-Connecting-IP, so the project's
 * per-address limits see many users, as they would in production, and run
 * with their defaults.
 */
export function clientAddress() {
  return `127.0.0.${2 + (addressCounter++ % 253)}`;
}

/** Text of a chat frame as a client sends it (the tutorial's shape, for every server). */
const clientFrame = (/** @type {string} */ text) => `{"message":"${text}"}`;

export class Client {
  /**
   * @param {Run} run
   * @param {Target} target
   * @param {Room} room
   * @param {{ rich?: boolean, joiner?: boolean, senderIndex?: number, senders?: number }} [o]
   */
  constructor(run, target, room, o = {}) {
    this.run = run;
    this.target = target;
    this.room = room;
    this.rich = o.rich ?? false;
    /** Joiners arrive while the room is busy: order is checked from their first frame on. */
    this.joiner = o.joiner ?? false;
    this.senderIndex = o.senderIndex ?? -1;
    /** Counted in the room's expected receivers (set when it is in the room). */
    this.counted = false;
    const senders = o.senders ?? room.seq.length;
    this.lastSeq = new Int32Array(senders).fill(-1);
    /** @type {Map<number, Set<number>> | null} per sender, sequence numbers skipped so far */
    this.missing = null;
    this.unique = 0;
    this.gaps = 0;
    // project joiners: ids at and below welcome.lastId are history
    this.historyUpTo = -1;
    this.historyFrames = 0;
    this.prevId = -1;
    /** @type {(() => void) | null} */
    this.onReady = null;
    /** @type {WebSocket | null} */
    this.ws = null;
    this.address = clientAddress();
  }

  /** Opens the socket; resolves on open (101), rejects on error or after timeoutMs. */
  connect(timeoutMs = 15_000) {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(wsUrl(this.target, this.room.name, { rich: this.rich }), {
        perMessageDeflate: this.target.deflate ?? false,
        skipUTF8Validation: true,
        handshakeTimeout: timeoutMs,
        localAddress: this.address,
      });
      this.ws = ws;
      ws.on("message", (data) => this.#frame(/** @type {Buffer} */ (data).toString()));
      ws.once("open", () => resolve(undefined));
      ws.once("error", reject);
      ws.once("unexpected-response", (_req, res) =>
        reject(new Error(`HTTP ${res.statusCode} on WebSocket upgrade`)),
      );
    });
  }

  /** Sends the next message of this client's sender slot. */
  send() {
    const room = this.room;
    const s = this.senderIndex;
    const q = room.seq[s] ?? 0;
    room.seq[s] = q + 1;
    const g = this.run.register(room.size);
    this.ws?.send(clientFrame(`B${s}:${q}:${g}:${now().toFixed(3)}`));
  }

  /** @param {string} text */
  #frame(text) {
    this.run.frames++;
    if (this.target.batch) {
      let start = 0;
      for (;;) {
        const nl = text.indexOf("\n", start);
        this.#message(nl < 0 ? text.slice(start) : text.slice(start, nl));
        if (nl < 0) return;
        start = nl + 1;
      }
    }
    this.#message(text);
  }

  /** @param {string} text */
  #message(text) {
    let payload;
    if (this.target.protocol === "project") {
      if (!text.startsWith('{"type":"chat"')) return this.#other(text);
      const idAt = text.indexOf('"id":') + 5;
      const id = parseInt(text.slice(idAt, text.indexOf(",", idAt)), 10);
      if (this.joiner) {
        if (this.prevId >= 0 && id !== this.prevId + 1) {
          if (id > this.prevId + 1) this.gaps += id - this.prevId - 1;
          else this.run.reorder++;
        }
        this.prevId = Math.max(this.prevId, id);
        if (id <= this.historyUpTo) {
          this.historyFrames++;
          if (id === this.historyUpTo) this.#ready();
          return;
        }
      }
      payload = extractMessage(text);
    } else {
      payload = extractMessage(text);
    }
    if (payload === null || payload.charCodeAt(0) !== 66 /* B */) return;
    const parts = payload.slice(1).split(":");
    const s = Number(parts[0]);
    const q = Number(parts[1]);
    const g = Number(parts[2]);
    const t = Number(parts[3]);
    const run = this.run;
    const last = this.lastSeq[s] ?? -1;
    if (q === last + 1 || (this.joiner && last === -1)) {
      this.lastSeq[s] = q;
    } else if (q > last + 1) {
      const set = this.#missingOf(s);
      for (let m = last + 1; m < q && set.size < 100_000; m++) set.add(m);
      this.lastSeq[s] = q;
    } else {
      const set = this.missing?.get(s);
      if (set?.delete(q)) {
        run.reorder++;
      } else {
        run.dup++;
        return;
      }
    }
    this.unique++;
    if (!this.counted) return;
    run.unique++;
    const at = now();
    run.lastDelivery = at;
    run.latency.record(at - t);
    run.hit(g);
  }

  /** @param {number} s */
  #missingOf(s) {
    this.missing ??= new Map();
    let set = this.missing.get(s);
    if (!set) this.missing.set(s, (set = new Set()));
    return set;
  }

  /** @param {string} text */
  #other(text) {
    if (text.startsWith('{"type":"error"')) {
      this.run.errors++;
      if (this.run.errorSamples.length < 5) this.run.errorSamples.push(text);
    } else if (text.startsWith('{"type":"welcome"') && this.joiner) {
      const lastId = /** @type {{ lastId: number }} */ (JSON.parse(text)).lastId;
      this.historyUpTo = lastId;
      // An empty room has no history to wait for.
      if (lastId === 0) this.#ready();
    }
  }

  #ready() {
    const cb = this.onReady;
    this.onReady = null;
    cb?.();
  }

  /** Skipped sequence numbers that never arrived. */
  get unfilledGaps() {
    let n = this.gaps;
    if (this.missing) for (const set of this.missing.values()) n += set.size;
    return n;
  }

  close() {
    const ws = this.ws;
    if (!ws || ws.readyState === WebSocket.CLOSED) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        ws.terminate();
        resolve(undefined);
      }, 5000);
      ws.once("close", () => {
        clearTimeout(timer);
        resolve(undefined);
      });
      if (ws.readyState === WebSocket.CONNECTING) ws.terminate();
      else ws.close(1000);
    });
  }
}

/** The text of the `"message"` field of a frame, without JSON.parse (bench messages have no escapes). */
function extractMessage(/** @type {string} */ text) {
  const at = text.indexOf('"message":"');
  if (at < 0) return null;
  const start = at + 11;
  return text.slice(start, text.indexOf('"', start));
}

/**
 * Connects clients with at most `concurrency` handshakes in flight.
 * @param {Client[]} clients @param {number} concurrency @param {Histogram} [handshake]
 * @returns {Promise<{ opened: number, failed: number, seconds: number, errors: string[] }>}
 */
export async function connectAll(clients, concurrency, handshake) {
  let next = 0;
  let opened = 0;
  let failed = 0;
  /** @type {string[]} */
  const errors = [];
  const t0 = now();
  const worker = async () => {
    while (next < clients.length) {
      const c = /** @type {Client} */ (clients[next++]);
      const t = now();
      try {
        await c.connect();
        handshake?.record(now() - t);
        c.counted = true;
        c.room.members.push(c);
        opened++;
      } catch (e) {
        failed++;
        if (errors.length < 5) errors.push(String(e));
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, clients.length) }, worker));
  return { opened, failed, seconds: (now() - t0) / 1000, errors };
}

/** @param {Client[]} clients */
export async function closeAll(clients) {
  for (const c of clients) c.counted = false;
  await Promise.all(clients.map((c) => c.close()));
}

/**
 * Calls `tick(due)` about every 5 ms with how many sends are due so far at
 * `rate` per second (open loop: a late tick sends the backlog), until
 * `seconds` have passed.
 * @param {number} rate @param {number} seconds @param {(n: number) => void} tick
 */
export function paced(rate, seconds, tick) {
  return new Promise((resolve) => {
    const t0 = now();
    let done = 0;
    const timer = setInterval(() => {
      const elapsed = now() - t0;
      const target = Math.min(Math.floor((elapsed * rate) / 1000), Math.round(rate * seconds));
      if (target > done) {
        tick(target - done);
        done = target;
      }
      if (elapsed >= seconds * 1000) {
        clearInterval(timer);
        resolve(undefined);
      }
    }, 5);
  });
}

/**
 * Inject API client: POSTs bench messages at a fixed rate over keep-alive
 * connections. Each lane (a virtual sender with its own sequence) has at
 * most one request outstanding, so per-sender order is well defined even
 * though requests run concurrently.
 */
export class Injector {
  /** @param {Run} run @param {Target} target @param {Room} room @param {number} lanes */
  constructor(run, target, room, lanes) {
    this.run = run;
    this.target = target;
    this.room = room;
    this.agent = new Agent({ keepAlive: true, maxSockets: lanes });
    /** @type {number[]} */
    this.free = Array.from({ length: lanes }, (_, i) => lanes - 1 - i);
    this.http = new Histogram();
    this.accepted = 0;
    this.rejected = 0;
    this.skipped = 0;
    this.lastResponse = 0;
    /** @type {string[]} */
    this.samples = [];
  }

  send() {
    const lane = this.free.pop();
    if (lane === undefined) {
      this.skipped++;
      return;
    }
    const room = this.room;
    const q = room.seq[lane] ?? 0;
    room.seq[lane] = q + 1;
    const g = this.run.register(room.size);
    const t = now();
    const body = clientFrame(`B${lane}:${q}:${g}:${t.toFixed(3)}`);
    const project = this.target.protocol === "project";
    const path = project
      ? `/api/rooms/${encodeURIComponent(room.name)}/messages`
      : `/inject/${encodeURIComponent(room.name)}?batch=${this.target.batch ? 1 : 0}&api=${this.target.api ?? ""}`;
    /** @type {Record<string, string | number>} */
    const headers = {
      "Content-Type": "application/json",
      "Content-Length": Buffer.byteLength(body),
    };
    if (project) headers.Authorization = `Bearer ${this.target.token}`;
    const req = httpRequest(
      {
        host: "127.0.0.1",
        port: this.target.port,
        method: "POST",
        path,
        headers,
        agent: this.agent,
      },
      (res) => {
        /** @type {Buffer[]} */
        const chunks = [];
        res.on("data", (c) => chunks.push(c));
        res.on("end", () => {
          const at = now();
          this.lastResponse = at;
          this.http.record(at - t);
          const status = res.statusCode ?? 0;
          if (status >= 200 && status < 300) this.accepted++;
          else {
            this.rejected++;
            if (this.samples.length < 5)
              this.samples.push(`${status} ${Buffer.concat(chunks).toString().slice(0, 200)}`);
            // never delivered: stop waiting for it
            this.run.inflight.delete(g);
          }
          this.free.push(lane);
        });
      },
    );
    req.on("error", (e) => {
      this.rejected++;
      if (this.samples.length < 5) this.samples.push(String(e));
      this.run.inflight.delete(g);
      this.free.push(lane);
    });
    req.end(body);
  }

  close() {
    this.agent.destroy();
  }
}
