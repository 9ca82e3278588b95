#!/usr/bin/env node
/**
 * Soak test: a few hundred WebSocket clients over dozens of rooms against a
 * real `wrangler dev`, for about a minute, with the server restarted in the
 * middle. It proves, with counts, that every message is delivered exactly
 * once and in order.
 *
 *   npm run soak                         # 60 s, 300 clients, 30 rooms, 2 restarts
 *   npm run soak -- --duration 15        # the short run CI does
 *   npm run soak -- --clients 500 --rooms 50 --restarts 3 --seed 42
 *   npm run soak -- --relays 3           # every room spread over 3 relay objects (ROOM_RELAYS=3)
 *
 * It starts its own `wrangler dev` on free ports (never 8787/9229) with a
 * fresh `--persist-to` directory and a random BROADCAST_TOKEN passed through
 * `--env-file`, so it never reads the developer's .dev.vars or
 * .wrangler/state. The room limits are the shipped ones from wrangler.toml:
 * clients send well under RATE_LIMIT_MESSAGES, so nothing is raised.
 * wrangler dev reloads when src/ changes; don't edit sources during a run.
 *
 * What the clients do:
 * - "stayers" (40%) join at the start and stay to the end;
 * - "churners" join, chat for 2-12 s, then leave with a close frame or drop
 *   without one (ws.terminate()), come back 0.2-3 s later with
 *   `?since=<last id seen>`, or now and then as a newcomer without since;
 * - a "flooder" (--flood) reconnects as fast as it can under one name from
 *   one address, 10 messages per socket, in a room of its own: the send limit
 *   must follow it (at most 20 per 10 s, plus one window per restart);
 * - every client sends a message every 2-6 s (a unique tag plus some
 *   Unicode), and an injector posts tagged messages through the inject API
 *   (with an Idempotency-Key, retried until it gets a 201).
 *
 * "Eviction": wrangler dev offers no way to evict one Durable Object from
 * outside, so the soak restarts the whole wrangler dev process on the same
 * port and persistence directory (`--restarts`, evenly spaced; the first is
 * graceful, SIGTERM, later ones abrupt, SIGKILL of the process group). Every
 * room object is torn down (memory lost, SQLite storage kept) and every socket
 * drops with 1006, so every client reconnects with since=. That is harsher
 * than a hibernation eviction, where sockets survive: it is what a deploy or
 * a machine failure looks like.
 *
 * What is checked, per "stream" (a client's view of its room across its
 * since= reconnects; a newcomer starts a new stream):
 * - ids arrive strictly increasing with no gap from where the stream began
 *   (the welcome's lastId, or since) to the room's last id at the end for
 *   clients connected at the end (everybody reconnects before the end);
 *   gaps are "lost", repeats "duplicated", going back "reordered";
 * - each id carries the same text for every client and in the room's stored
 *   history, byte-identical to what was sent;
 * - every acknowledged message (echo to its sender, or 201 from the API) is
 *   stored once under that id; no text is stored twice;
 * - no HTTP answer is a 5xx, no error frame arrives, and the member counts
 *   from the API match the sockets actually open (no ghosts).
 * - no reading member is closed as slow (4008); the server's memory is
 *   reported after the last restart and when the traffic stops.
 * It prints the counts and exits non-zero on any failure.
 */
import { randomBytes } from "node:crypto";
import { appendFileSync, readFileSync, writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { cpus, hostname, tmpdir, totalmem, type as osType, release } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { WebSocket } from "ws";
import { treeSample } from "../bench/lib/proc.mjs";
import { freePort, startDevServer } from "./dev-server.ts";

// ---------------------------------------------------------------- options

const { values: flags } = parseArgs({
  options: {
    duration: { type: "string", default: "60" },
    clients: { type: "string", default: "300" },
    rooms: { type: "string", default: "30" },
    restarts: { type: "string", default: "2" },
    "inject-rate": { type: "string", default: "10" },
    stuck: { type: "string", default: "3" },
    flood: { type: "string", default: "1" },
    relays: { type: "string" },
    seed: { type: "string" },
    json: { type: "boolean", default: false },
    "keep-dir": { type: "boolean", default: false },
    "server-log": { type: "boolean", default: false },
    help: { type: "boolean", default: false },
  },
});

if (flags.help) {
  console.log(`Usage: npm run soak -- [options]
  --duration <s>      traffic time in seconds (default 60)
  --clients <n>       WebSocket clients (default 300)
  --rooms <n>         rooms they spread over (default 30)
  --restarts <n>      wrangler dev restarts during the run (default 2)
  --inject-rate <n>   inject API messages per second (default 10)
  --stuck <n>         members that never read, one per room, from the last restart on (default 3)
  --flood <n>         reconnect flooders: one name from one address, reconnecting and sending 10 at a time in a room of its own (default 1)
  --relays <k>        start the server with ROOM_RELAYS=k: each room's members held by k relay objects (default: wrangler.toml's)
  --seed <n>          seed for the client behaviour (default: random)
  --json              also print the result as one JSON line
  --keep-dir          keep the temporary directory (wrangler log, storage)
  --server-log        let wrangler log every request (slower)`);
  process.exit(0);
}

function positive(name, min = 1) {
  const n = Number(flags[name]);
  if (!Number.isFinite(n) || n < min) {
    console.error(`--${name} must be a number >= ${min}`);
    process.exit(2);
  }
  return n;
}

const DURATION_MS = positive("duration") * 1000;
const CLIENTS = Math.floor(positive("clients"));
const ROOMS = Math.min(Math.floor(positive("rooms")), CLIENTS);
const RESTARTS = Math.floor(positive("restarts", 0));
const INJECT_RATE = positive("inject-rate", 0);
const STUCK = Math.min(Math.floor(positive("stuck", 0)), ROOMS);
const FLOOD = Math.floor(positive("flood", 0));
/** ROOM_RELAYS for the server, or null to leave wrangler.toml's value (a single object per room). */
const RELAYS = flags.relays === undefined ? null : Math.floor(positive("relays"));
const SEED = flags.seed === undefined ? randomBytes(4).readUInt32LE() : Number(flags.seed);
/** wrangler.toml's HISTORY_ON_JOIN and HISTORY_LIMIT, which the soak does not override. */
const HISTORY_ON_JOIN = 50;
const HISTORY_LIMIT = 1000;

/** mulberry32: small, seeded, good enough to make runs repeatable in shape. */
let seedState = SEED >>> 0;
function random() {
  seedState = (seedState + 0x6d2b79f5) >>> 0;
  let t = seedState;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const between = (min, max) => min + random() * (max - min);
const pick = (list) => list[Math.floor(random() * list.length)];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------- counters

const stats = {
  socketSent: 0,
  socketAcked: 0,
  injectSent: 0,
  injectAcked: 0,
  injectReplayed: 0,
  injectRetries: 0,
  injectGaveUp: 0,
  injectRefused: 0,
  delivered: 0,
  lost: 0,
  duplicated: 0,
  reordered: 0,
  mismatched: 0,
  storedTwice: 0,
  ackedNotStored: 0,
  lostOnOpenSocket: 0,
  inFlightAtDrop: 0,
  inFlightStored: 0,
  joins: 0,
  freshJoins: 0,
  reconnects: 0,
  closes: 0,
  terminates: 0,
  serverDrops: 0,
  connectFailures: 0,
  http5xx: 0,
  http4xx: 0,
  errorFrames: 0,
  historyGaps: 0,
  ghosts: 0,
  restarts: 0,
  downtimeMs: 0,
  streams: 0,
  connectedAtEnd: 0,
  serverErrorsLogged: 0,
  closedSlow: 0,
  closedSlowStuck: 0,
  floodSockets: 0,
  floodSent: 0,
  floodAccepted: 0,
  floodLimited: 0,
  floodAllowed: 0,
  memoryStartMb: 0,
  memoryEndMb: 0,
};
const problems = [];
function problem(text) {
  if (problems.length < 40) problems.push(text);
}

// ---------------------------------------------------------------- the server

const runId = randomBytes(3).toString("hex");
const token = randomBytes(24).toString("base64url");
const dir = await mkdtemp(join(tmpdir(), "chat-soak-"));
const logPath = join(dir, "wrangler.log");
writeFileSync(logPath, "");
const port = await freePort();
const httpBase = `http://127.0.0.1:${port}`;
const wsBase = `ws://127.0.0.1:${port}`;

/** @type {import("./dev-server.ts").DevServer | null} */
let server = null;

/** Starts wrangler dev, the first time and after each restart on the same port and storage. */
async function startServer() {
  server = await startDevServer({
    token,
    port,
    persistTo: join(dir, "state"),
    logLevel: flags["server-log"] ? "info" : "warn",
    vars: RELAYS === null ? {} : { ROOM_RELAYS: String(RELAYS) },
    log: (line) => appendFileSync(logPath, `${line}\n`),
  });
}

/** @param {NodeJS.Signals} signal */
async function stopServer(signal) {
  if (!server) return;
  await server.stop(signal);
  server = null;
}

function logTail() {
  try {
    return readFileSync(logPath, "utf8").split("\n").slice(-40).join("\n");
  } catch {
    return "(no log)";
  }
}

function killServerNow() {
  if (server?.process.pid) {
    try {
      process.kill(-server.process.pid, "SIGKILL");
    } catch {
      // gone
    }
  }
}
process.on("exit", killServerNow);
for (const signal of ["SIGINT", "SIGTERM"])
  process.on(signal, () => {
    killServerNow();
    process.exit(130);
  });

// ---------------------------------------------------------------- HTTP

const auth = { Authorization: `Bearer ${token}` };

function countStatus(status, what) {
  if (status >= 500) {
    stats.http5xx++;
    problem(`${what}: HTTP ${status}`);
  } else if (status >= 400) stats.http4xx++;
}

async function getJson(path) {
  for (let attempt = 0; ; attempt++) {
    try {
      const res = await fetch(`${httpBase}${path}`, {
        headers: auth,
        signal: AbortSignal.timeout(10_000),
      });
      countStatus(res.status, `GET ${path}`);
      if (res.status === 200) return await res.json();
      await res.arrayBuffer();
    } catch (error) {
      if (attempt >= 20) throw error;
    }
    await sleep(250);
  }
}

// ---------------------------------------------------------------- rooms and messages

const FLAVOURS = [
  "hello",
  "héllo wörld",
  "技术交流 🙂",
  "مرحبا بالعالم",
  "cafe\u0301 (NFD) and caf\u00e9",
  '"quotes" & <tags> \\ backslash',
  "two\nlines\ttab",
  "👩‍👩‍👧 family, 🏳️‍🌈 flag",
  "\u0000nul and \u2028separator",
  "x".repeat(1500),
];

/** Every text ever sent, by tag, to check deliveries byte for byte. */
const sentText = new Map();
/** When each socket message was sent, for delivery latency. */
const sentAt = new Map();
/** Live delivery latencies (ms) of socket messages, by whether the room has a stuck member. */
const latency = { withStuck: [], without: [] };
let tagSeq = 0;

function newMessage(kind) {
  const tag = `soak:${runId}:${kind}:${++tagSeq}`;
  const text = `${tag} ${pick(FLAVOURS)}`;
  sentText.set(tag, text);
  if (kind !== "inject") sentAt.set(tag, performance.now());
  return { tag, text };
}

const tagOf = (text) => (typeof text === "string" ? text.split(" ", 1)[0] : "");

const rooms = Array.from({ length: ROOMS }, (_, i) => ({
  // Every fifth room has a non-ASCII name, so URLs are percent-encoded.
  name: i % 5 === 4 ? `soak-${runId}-技术交流-${i}` : `soak-${runId}-${i}`,
  /** tag -> id, for messages acknowledged by the API. */
  injected: new Map(),
  /** tag -> id, for socket messages echoed to their sender. */
  echoed: new Map(),
  clients: [],
  /** Has a member that never reads. */
  stuck: i < STUCK,
  lastId: 0,
  history: new Map(),
}));

// ---------------------------------------------------------------- streams

/** One client's view of its room, across reconnects that resume with since=. */
class Stream {
  constructor(room) {
    this.room = room;
    /** The id the stream starts after; set by the first welcome or since. */
    this.base = null;
    this.max = 0;
    this.ids = new Map();
  }

  /** Where to resume: the last id seen, or where the stream began. */
  get cursor() {
    return Math.max(this.max, this.base ?? 0);
  }

  record(id, text) {
    stats.delivered++;
    if (this.ids.has(id)) {
      stats.duplicated++;
      problem(`${this.room.name}: id ${id} delivered twice to one client`);
      return;
    }
    if (id < this.max) {
      stats.reordered++;
      problem(`${this.room.name}: id ${id} arrived after ${this.max}`);
    }
    this.ids.set(id, text);
    this.max = Math.max(this.max, id);
  }
}

// ---------------------------------------------------------------- clients

/** Resolved once the last restart is over; stuck members join then. */
let markRestartsDone;
const restartsDone = new Promise((r) => (markRestartsDone = r));
/** Cleared when the traffic phase ends; clients and the injector watch it. */
const traffic = { running: true };
let sessionSeq = 0;
/** Sockets the clients closed or dropped themselves, as opposed to the server. */
const intentional = new WeakSet();

class SoakClient {
  constructor(index, room, stayer, stuck = false) {
    this.index = index;
    this.room = room;
    this.stayer = stayer;
    /** Never reads until the traffic stops: the socket is paused. */
    this.stuck = stuck;
    this.name = `c${index}`;
    this.streams = [];
    this.stream = null;
    this.ws = null;
    this.session = 0;
    /** tag -> session it was sent on, until the echo arrives. */
    this.pending = new Map();
    room.clients.push(this);
  }

  get open() {
    return this.ws !== null && this.ws.readyState === WebSocket.OPEN;
  }

  newStream() {
    this.stream = new Stream(this.room);
    this.streams.push(this.stream);
  }

  /** Opens one connection; resolves with true once open, false if it failed. */
  connect() {
    const resume = this.stream !== null && this.stream.base !== null;
    if (!resume) this.newStream();
    const stream = this.stream;
    const since = resume ? `&since=${stream.cursor}` : "";
    const url = `${wsBase}/ws/chat/${encodeURIComponent(this.room.name)}/?rich=1&name=${this.name}${since}`;
    const ws = new WebSocket(url, { perMessageDeflate: false, handshakeTimeout: 10_000 });
    const session = ++sessionSeq;
    this.session = session;
    this.ws = ws;
    let openedAt = Infinity;
    return new Promise((resolveOpen) => {
      let opened = false;
      ws.on("unexpected-response", (_req, res) => {
        countStatus(res.statusCode, `upgrade ${this.room.name}`);
        res.resume();
        ws.terminate();
      });
      ws.on("error", () => {
        // Refused while the server restarts; "close" follows.
      });
      ws.on("open", () => {
        opened = true;
        openedAt = performance.now();
        if (this.stuck && traffic.running) ws.pause();
        stats.joins++;
        if (resume) stats.reconnects++;
        else stats.freshJoins++;
        resolveOpen(true);
      });
      ws.on("message", (data, isBinary) => this.onFrame(stream, data, isBinary, openedAt));
      ws.on("close", (code) => {
        if (this.ws === ws) this.ws = null;
        // 4008: closed for falling behind. Only a member that never reads may be.
        if (code === 4008) {
          if (this.stuck) stats.closedSlowStuck++;
          else {
            stats.closedSlow++;
            problem(`${this.name}: closed as slow (4008) although it reads`);
          }
        }
        if (!opened) {
          stats.connectFailures++;
          resolveOpen(false);
          return;
        }
        if (!intentional.has(ws)) stats.serverDrops++;
        this.onClosed?.();
      });
    });
  }

  onFrame(stream, data, isBinary, openedAt) {
    if (isBinary) {
      problem(`${this.name}: binary frame from the server`);
      return;
    }
    const frame = JSON.parse(data.toString());
    switch (frame.type) {
      case "welcome":
        // A newcomer gets the latest HISTORY_ON_JOIN messages, then live ones.
        if (stream.base === null) stream.base = Math.max(0, frame.lastId - HISTORY_ON_JOIN);
        break;
      case "chat": {
        stream.record(frame.id, frame.message);
        const tag = tagOf(frame.message);
        if (sentText.get(tag) !== frame.message) {
          stats.mismatched++;
          problem(`${this.room.name}#${frame.id}: text differs from what was sent`);
        }
        const sent = sentAt.get(tag);
        if (!this.stuck && sent !== undefined && sent > openedAt)
          latency[this.room.stuck ? "withStuck" : "without"].push(performance.now() - sent);
        if (this.pending.delete(tag)) {
          stats.socketAcked++;
          this.room.echoed.set(tag, frame.id);
        }
        break;
      }
      case "error":
        stats.errorFrames++;
        problem(`${this.name}: error frame ${frame.code}: ${frame.message}`);
        break;
      case "history_gap":
        stats.historyGaps++;
        problem(`${this.name}: history_gap ${JSON.stringify(frame)}`);
        break;
      default:
        break;
    }
  }

  send() {
    if (!this.open || this.pending.size >= 3) return;
    const { tag, text } = newMessage(this.name);
    this.pending.set(tag, this.session);
    this.ws.send(JSON.stringify({ message: text }));
    stats.socketSent++;
  }

  /** Stays connected until `ms` pass, the run stops, or the server drops us. */
  async stay(ms) {
    const until = Date.now() + ms;
    while (this.open && traffic.running && Date.now() < until) {
      await Promise.race([sleep(between(2000, 6000)), new Promise((r) => (this.onClosed = r))]);
      this.onClosed = null;
      if (this.open && traffic.running && Date.now() < until) this.send();
    }
  }

  /** Connects, retrying with backoff while the server is down. */
  async connectWithRetry() {
    let wait = 200;
    while (!(await this.connect())) {
      await sleep(wait + between(0, wait));
      wait = Math.min(wait * 1.5, 2000);
    }
  }

  async leave() {
    const ws = this.ws;
    if (!ws) return;
    intentional.add(ws);
    if (random() < 0.5) {
      stats.closes++;
      ws.close(1000, "bye");
    } else {
      // No close frame: the server only learns from the dead TCP connection.
      stats.terminates++;
      ws.terminate();
    }
    this.ws = null;
  }

  async run() {
    if (this.stuck) return this.runStuck();
    while (traffic.running) {
      if (!this.stayer && this.stream !== null && random() < 0.2) this.stream = null;
      await this.connectWithRetry();
      await this.stay(this.stayer ? Infinity : between(2000, 12_000));
      if (!traffic.running) break;
      if (this.open) await this.leave();
      if (!this.stayer) await sleep(between(200, 3000));
    }
    // The run is over: whoever is away comes back once with since=, to prove
    // that a reconnect recovers everything retained.
    if (!this.open) await this.connectWithRetry();
  }

  /** Joins after the last restart, reads nothing until the traffic stops, then catches up. */
  async runStuck() {
    await restartsDone;
    if (!traffic.running) return;
    await this.connectWithRetry();
    while (traffic.running) await sleep(200);
    // A restart would have dropped it too, unnoticed while paused; resume in any case.
    this.ws?.resume();
    await sleep(500);
    if (!this.open) await this.connectWithRetry();
  }
}

// ---------------------------------------------------------------- the flooder

/**
 * One name from one address reconnecting as fast as it can, 10 messages per
 * socket, in a room of its own: the send limit must follow it across sockets.
 * A restart tears the room down and with it the counters, so each restart
 * allows one more window.
 */
async function flood(index) {
  const room = `soak-${runId}-flood-${index}`;
  const started = Date.now();
  let round = 0;
  while (traffic.running) {
    const ws = new WebSocket(`${wsBase}/ws/chat/${room}/?name=flooder${index}`);
    const answers = [];
    ws.on("message", (d) => answers.push(JSON.parse(String(d))));
    const opened = await new Promise((done) => {
      ws.on("open", () => done(true));
      ws.on("error", () => done(false));
      ws.on("unexpected-response", (_q, res) => {
        res.resume();
        done(false);
      });
    });
    if (!opened) {
      await sleep(200);
      continue;
    }
    stats.floodSockets++;
    const tag = `f${index}-${round++}-`;
    for (let i = 0; i < 10; i++)
      ws.send(JSON.stringify({ message: `${tag}${i}`, clientId: `${tag}${i}` }));
    stats.floodSent += 10;
    const mine = () => answers.filter((f) => String(f.clientId ?? "").startsWith(tag));
    const deadline = Date.now() + 5000;
    while (mine().length < 10 && Date.now() < deadline && ws.readyState === WebSocket.OPEN)
      await sleep(5);
    stats.floodAccepted += mine().filter((f) => f.type === "chat").length;
    stats.floodLimited += mine().filter((f) => f.code === "rate_limited").length;
    ws.terminate();
  }
  const windows = Math.ceil((Date.now() - started) / (FLOOD_LIMIT.windowSeconds * 1000)) + 1;
  return FLOOD_LIMIT.messages * (windows + stats.restarts);
}

/** The shipped send limit (wrangler.toml), which the soak runs with. */
const FLOOD_LIMIT = { messages: 20, windowSeconds: 10 };

/** RSS of the server's workerd processes, in MB. */
function serverMemoryMb() {
  const pid = server?.process.pid;
  if (!pid) return 0;
  const bytes = treeSample(pid)
    .filter((p) => p.role.startsWith("workerd"))
    .reduce((a, p) => a + p.rss, 0);
  return Math.round((bytes / 2 ** 20) * 10) / 10;
}

// ---------------------------------------------------------------- the injector

const injections = [];

async function inject(room) {
  const { tag, text } = newMessage("inject");
  stats.injectSent++;
  for (let attempt = 0; attempt < 120; attempt++) {
    if (attempt > 0) stats.injectRetries++;
    try {
      const res = await fetch(`${httpBase}/api/rooms/${encodeURIComponent(room.name)}/messages`, {
        method: "POST",
        headers: { ...auth, "Content-Type": "application/json", "Idempotency-Key": tag },
        body: JSON.stringify({ message: text, user: "injector" }),
        signal: AbortSignal.timeout(10_000),
      });
      countStatus(res.status, `POST ${room.name}`);
      if (res.status === 201) {
        const { id } = await res.json();
        room.injected.set(tag, id);
        stats.injectAcked++;
        if (res.headers.get("Idempotent-Replayed")) stats.injectReplayed++;
        return;
      }
      const body = await res.text();
      if (res.status !== 429 && res.status < 500) {
        stats.injectRefused++;
        problem(`inject refused: ${res.status} ${body.slice(0, 200)}`);
        return;
      }
    } catch {
      // The server is restarting, or the answer was lost: retry with the same key.
    }
    await sleep(250);
  }
  stats.injectGaveUp++;
  problem(`inject ${tag} never got a 201`);
}

async function injector() {
  if (INJECT_RATE === 0) return;
  while (traffic.running) {
    await sleep(between(0.5, 1.5) * (1000 / INJECT_RATE));
    if (traffic.running) injections.push(inject(pick(rooms)));
  }
}

/** p50, p99 and max of a list of milliseconds. */
function percentiles(list) {
  const sorted = list.toSorted((a, b) => a - b);
  const at = (q) =>
    sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] : NaN;
  return {
    n: sorted.length,
    p50: Math.round(at(0.5)),
    p99: Math.round(at(0.99)),
    max: Math.round(at(1)),
  };
}

// ---------------------------------------------------------------- the run

const startedAt = new Date();
const machine = `${cpus().length} × ${cpus()[0]?.model?.trim() ?? "cpu"}, ${Math.round(totalmem() / 2 ** 30)} GiB, ${osType()} ${release()}, Node ${process.versions.node}`;
const log = (line) =>
  console.log(`[soak ${((Date.now() - startedAt) / 1000).toFixed(1)}s] ${line}`);

log(
  `${CLIENTS} clients, ${ROOMS} rooms${RELAYS === null ? "" : ` over ROOM_RELAYS=${RELAYS}`}, ${DURATION_MS / 1000} s, ${RESTARTS} restart(s), ` +
    `${INJECT_RATE} injects/s, seed ${SEED}; wrangler dev on :${port}, state in ${dir}`,
);

let exitCode = 1;
try {
  await startServer();
  log("wrangler dev is up");

  const clients = Array.from(
    { length: CLIENTS },
    (_, i) => new SoakClient(i, rooms[i % ROOMS], random() < 0.4),
  );
  for (let i = 0; i < STUCK; i++) clients.push(new SoakClient(CLIENTS + i, rooms[i], true, true));
  const runs = clients.map(async (c) => {
    // Spread the initial joins over the first two seconds.
    await sleep(between(0, 2000));
    await c.run();
  });
  const injecting = injector();
  const flooding = Array.from({ length: FLOOD }, (_, i) => flood(i));

  // Restarts split the traffic time into equal segments; the server's
  // downtime comes on top, so every segment gets its full share of traffic.
  const segment = DURATION_MS / (RESTARTS + 1);
  let segmentStart = Date.now();
  for (let k = 1; k <= RESTARTS; k++) {
    await sleep(Math.max(0, segmentStart + segment - Date.now()));
    const signal = k === 1 ? "SIGTERM" : "SIGKILL";
    log(`restart ${k}: stopping wrangler dev with ${signal}`);
    const t = Date.now();
    await stopServer(signal);
    await startServer();
    stats.restarts++;
    stats.downtimeMs += Date.now() - t;
    log(`restart ${k}: back after ${((Date.now() - t) / 1000).toFixed(1)} s`);
    segmentStart = Date.now();
  }
  markRestartsDone();
  stats.memoryStartMb = serverMemoryMb();
  await sleep(Math.max(0, segmentStart + segment - Date.now()));
  stats.memoryEndMb = serverMemoryMb();
  traffic.running = false;
  log("traffic stopped; waiting for every client and injection to settle");
  stats.floodAllowed = (await Promise.all(flooding)).reduce((a, b) => a + b, 0);
  if (stats.floodAccepted > stats.floodAllowed)
    problem(
      `reconnect flood: ${stats.floodAccepted} messages accepted, at most ${stats.floodAllowed} allowed`,
    );
  await injecting;
  await Promise.all(injections);
  await Promise.race([Promise.all(runs), sleep(60_000)]);

  // Outstanding echoes on open sockets.
  const settle = Date.now() + 15_000;
  while (Date.now() < settle && clients.some((c) => c.open && c.pending.size > 0)) await sleep(100);

  // The rooms' final state, then every connected client must catch up to it.
  for (const room of rooms)
    room.lastId = (await getJson(`/api/rooms/${encodeURIComponent(room.name)}`)).lastId;
  const caughtUp = Date.now() + 15_000;
  while (Date.now() < caughtUp && clients.some((c) => c.open && c.stream.cursor < c.room.lastId))
    await sleep(100);

  // Ghosts: the API's member count must match the sockets we hold open.
  for (const room of rooms) {
    const open = room.clients.filter((c) => c.open).length;
    let members = -1;
    for (let i = 0; i < 50 && members !== open; i++) {
      members = (await getJson(`/api/rooms/${encodeURIComponent(room.name)}`)).members;
      if (members !== open) await sleep(200);
    }
    if (members !== open) {
      stats.ghosts += Math.abs(members - open);
      problem(`${room.name}: API counts ${members} members, ${open} sockets are open`);
    }
  }

  // Stored history: each id once, each acknowledged message under its id.
  for (const room of rooms) {
    const path = `/api/rooms/${encodeURIComponent(room.name)}/messages?since=0&limit=${HISTORY_LIMIT}`;
    const { messages } = await getJson(path);
    const byTag = new Map();
    for (const m of messages) {
      room.history.set(m.id, m.message);
      const tag = tagOf(m.message);
      if (byTag.has(tag)) {
        stats.storedTwice++;
        problem(`${room.name}: ${tag} stored as ${byTag.get(tag)} and ${m.id}`);
      }
      byTag.set(tag, m.id);
      if (sentText.get(tag) !== m.message) {
        stats.mismatched++;
        problem(`${room.name}#${m.id}: stored text differs from what was sent`);
      }
    }
    const oldest = messages[0]?.id ?? room.lastId + 1;
    for (const acked of [room.injected, room.echoed])
      for (const [tag, id] of acked)
        if (id >= oldest && byTag.get(tag) !== id) {
          stats.ackedNotStored++;
          problem(`${room.name}: ${tag} acknowledged as ${id}, stored as ${byTag.get(tag)}`);
        }
    room.byTag = byTag;
  }

  // Streams: no gap from where each began to where it ended.
  for (const c of clients) {
    if (c.open) stats.connectedAtEnd++;
    for (const stream of c.streams) {
      if (stream.base === null) continue;
      stats.streams++;
      const end = c.open && stream === c.stream ? c.room.lastId : stream.max;
      for (let id = stream.base + 1; id <= end; id++)
        if (!stream.ids.has(id)) {
          stats.lost++;
          problem(`${c.name} in ${c.room.name}: never got id ${id}`);
        }
      for (const [id, text] of stream.ids)
        if (c.room.history.has(id) && c.room.history.get(id) !== text) {
          stats.mismatched++;
          problem(`${c.room.name}#${id}: a client saw different text than was stored`);
        }
    }
    for (const [tag, session] of c.pending) {
      if (c.open && c.session === session) {
        stats.lostOnOpenSocket++;
        problem(`${c.name}: ${tag} sent on an open socket, never echoed`);
      } else {
        stats.inFlightAtDrop++;
        if (c.room.byTag.has(tag)) stats.inFlightStored++;
      }
    }
  }
  stats.lost += stats.lostOnOpenSocket + stats.ackedNotStored;

  // Anything the Worker logged at warn or error level, minus wrangler's own
  // complaint that it cannot fetch Request.cf without a network.
  stats.serverErrorsLogged = readFileSync(logPath, "utf8")
    .split("\n")
    .filter((l) => /error|uncaught|exception/i.test(l) && !/Request\.cf|ENOTFOUND/.test(l)).length;

  const stored = rooms.reduce((n, r) => n + r.lastId, 0);
  const latencies = {
    without: percentiles(latency.without),
    withStuck: percentiles(latency.withStuck),
  };
  const failed =
    stats.lost +
    stats.duplicated +
    stats.reordered +
    stats.mismatched +
    stats.storedTwice +
    stats.http5xx +
    stats.errorFrames +
    stats.ghosts +
    stats.injectGaveUp +
    stats.injectRefused +
    stats.closedSlow +
    (stats.floodAccepted > stats.floodAllowed ? 1 : 0);
  exitCode = failed === 0 ? 0 : 1;

  const result = {
    date: startedAt.toISOString(),
    machine,
    host: hostname(),
    seed: SEED,
    durationSeconds: DURATION_MS / 1000,
    clients: CLIENTS,
    rooms: ROOMS,
    relays: RELAYS,
    restarts: stats.restarts,
    stuck: STUCK,
    latencyMs: latencies,
    sent: stats.socketSent + stats.injectSent,
    stored,
    ...stats,
    ok: exitCode === 0,
  };
  console.log(`
Soak ${exitCode === 0 ? "PASSED" : "FAILED"} — ${result.date}, ${machine}
  ${CLIENTS} clients (+ ${STUCK} that never read until the end) over ${ROOMS} rooms${RELAYS === null ? "" : ` (ROOM_RELAYS=${RELAYS})`} for ${DURATION_MS / 1000} s of traffic, ${stats.restarts} wrangler dev restart(s) (${(stats.downtimeMs / 1000).toFixed(1)} s down), seed ${SEED}
  sent        ${result.sent} (${stats.socketSent} over sockets, ${stats.injectSent} through the inject API)
  acked       ${stats.socketAcked} echoes, ${stats.injectAcked} × 201 (${stats.injectReplayed} idempotent replays after ${stats.injectRetries} retries)
  stored      ${stored}
  delivered   ${stats.delivered} chat frames (live and replayed) over ${stats.streams} client streams, ${stats.connectedAtEnd} clients connected at the end
  lost        ${stats.lost}
  duplicated  ${stats.duplicated} (+ ${stats.storedTwice} stored twice)
  reordered   ${stats.reordered}
  mismatched  ${stats.mismatched}
  5xx         ${stats.http5xx}
  reconnects  ${stats.reconnects} with since= (+ ${stats.freshJoins} fresh joins); ${stats.closes} closes, ${stats.terminates} drops without a close frame, ${stats.serverDrops} dropped by restarts
  latency     live socket messages, ms: p50 ${latencies.without.p50} / p99 ${latencies.without.p99} / max ${latencies.without.max} (${latencies.without.n} deliveries); in the ${STUCK} rooms with a member that never reads: ${latencies.withStuck.p50} / ${latencies.withStuck.p99} / ${latencies.withStuck.max} (${latencies.withStuck.n})
  in flight   ${stats.inFlightAtDrop} socket sends unanswered when their socket went (${stats.inFlightStored} of them stored, each once)
  members that never read: ${stats.closedSlowStuck} of ${STUCK} closed as slow (4008); readers closed as slow: ${stats.closedSlow}; server memory (workerd) ${stats.memoryStartMb} MB after the last restart, ${stats.memoryEndMb} MB when the traffic stopped
  flood       ${FLOOD} reconnect flooder(s): ${stats.floodSockets} sockets, ${stats.floodSent} sent, ${stats.floodAccepted} accepted (at most ${stats.floodAllowed} allowed), ${stats.floodLimited} rate_limited
  other       ${stats.errorFrames} error frames, ${stats.historyGaps} history gaps, ${stats.ghosts} ghost members, ${stats.connectFailures} refused connects during restarts, ${stats.http4xx} 4xx, ${stats.serverErrorsLogged} error lines in the wrangler log`);
  if (problems.length) console.log(`\nFirst problems:\n  ${problems.join("\n  ")}`);
  if (flags.json) console.log(JSON.stringify(result));
  for (const c of clients) c.ws?.terminate();
} catch (error) {
  console.error(`soak aborted: ${error instanceof Error ? (error.stack ?? error.message) : error}`);
  console.error(logTail());
} finally {
  await stopServer("SIGTERM");
  if (flags["keep-dir"]) console.log(`kept ${dir}`);
  else await rm(dir, { recursive: true, force: true });
}
process.exit(exitCode);
