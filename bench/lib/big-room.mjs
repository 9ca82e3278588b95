/**
 * @module big-room
 * The big-room scenarios of issue 13: a storm of N members joining one room
 * at once, and a restart ("redeploy") of a room of N members that all come
 * back. Members behave as the room page does: `?rich=1` on the project,
 * reconnect after a fresh random 0.5–2 s growing 1.6x per failed attempt,
 * resume with `since`. Each member binds its own loopback address
 * (127.0.0.2–254), as many users behind many addresses would, so the
 * project runs with its default per-address socket cap.
 */
import { WebSocket } from "ws";
import { clientAddress } from "./loadgen.mjs";
import { treeSample } from "./proc.mjs";

/** @typedef {import("./loadgen.mjs").Target} Target */

const sleep = (/** @type {number} */ ms) => new Promise((r) => setTimeout(r, ms));
const round = (/** @type {number} */ x, d = 2) => Math.round(x * 10 ** d) / 10 ** d;
const now = () => performance.now();

/** Handshakes in flight while a storm joins. */
const STORM_CONCURRENCY = 50;
/** Messages in the room before the restart and injected right after it. */
const REDEPLOY_MESSAGES = 20;

/** One member: counts what it receives and keeps what the protocol says to keep. */
class Member {
  /** @param {Target} target @param {string} room @param {boolean} rich @param {number} i */
  constructor(target, room, rich, i) {
    this.target = target;
    this.room = room;
    this.rich = rich;
    this.name = `m${i}`;
    this.address = clientAddress();
    this.frames = 0;
    this.bytes = 0;
    /** Members in the room, as the last welcome, presence or members frame said. */
    this.count = 0;
    /** @type {number[]} */
    this.ids = [];
    this.open = false;
    this.welcomed = false;
    /** @type {WebSocket | null} */
    this.ws = null;
    this.reconnect = false;
    this.attempt = 0;
  }

  url() {
    const q = new URLSearchParams({ name: this.name });
    if (this.rich) q.set("rich", "1");
    const last = this.ids.at(-1);
    if (last !== undefined) q.set("since", String(last));
    return `ws://127.0.0.1:${this.target.port}/ws/chat/${encodeURIComponent(this.room)}/?${q}`;
  }

  /** @returns {Promise<void>} */
  connect() {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(this.url(), {
        perMessageDeflate: false,
        localAddress: this.address,
        handshakeTimeout: 30_000,
      });
      this.ws = ws;
      ws.on("message", (data) => {
        const text = String(data);
        this.frames++;
        this.bytes += Buffer.byteLength(text);
        if (!this.rich) return;
        const f = JSON.parse(text);
        if (f.type === "chat") this.ids.push(f.id);
        else if (typeof f.count === "number") this.count = f.count;
        if (f.type === "welcome") this.welcomed = true;
      });
      ws.once("open", () => {
        this.open = true;
        this.attempt = 0;
        resolve();
      });
      ws.once("error", reject);
      ws.once("close", () => {
        this.open = false;
        this.welcomed = false;
        if (this.reconnect) this.#later();
      });
    });
  }

  /** The room page's schedule: a fresh random 0.5–2 s, times 1.6 per failed attempt. */
  #later() {
    const delay = (500 + Math.random() * 1500) * 1.6 ** Math.min(this.attempt, 6);
    this.attempt++;
    setTimeout(() => this.connect().catch(() => {}), delay);
  }

  close() {
    this.reconnect = false;
    this.ws?.terminate();
  }
}

/** @param {Member[]} members */
async function connectAll(members) {
  let next = 0;
  let failed = 0;
  /** @type {string[]} */
  const errors = [];
  const worker = async () => {
    while (next < members.length) {
      const m = /** @type {Member} */ (members[next++]);
      try {
        await m.connect();
      } catch (e) {
        failed++;
        if (errors.length < 3) errors.push(String(e));
      }
    }
  };
  await Promise.all(Array.from({ length: STORM_CONCURRENCY }, worker));
  return { failed, errors };
}

/** @param {() => boolean} done @param {number} ms */
async function until(done, ms) {
  const deadline = Date.now() + ms;
  while (!done()) {
    if (Date.now() > deadline) return false;
    await sleep(20);
  }
  return true;
}

const sum = (/** @type {Member[]} */ ms, /** @type {(m: Member) => number} */ f) =>
  ms.reduce((a, m) => a + f(m), 0);

/**
 * Seconds until the server's processes are idle again (under 10% of a core
 * over 250 ms), at most 60. Closing N sockets is work the server does after
 * the clients have gone; a measurement that starts before it ends measures
 * the previous one too.
 * @param {{ pid: number }} server
 */
async function untilIdle(server) {
  const cpu = () => treeSample(server.pid).reduce((a, p) => a + p.cpu, 0);
  const t0 = now();
  let last = cpu();
  while (now() - t0 < 60_000) {
    await sleep(250);
    const c = cpu();
    if (c - last < 0.025) break;
    last = c;
  }
  return (now() - t0) / 1000;
}

/**
 * N members join one fresh room at once, then all leave. Rich members are
 * done when each has been told the room has N members; bare ones when their
 * socket is open. Starts and ends with the server idle.
 * @param {Target} target @param {{ pid: number }} server @param {string} room @param {number} n
 * @param {boolean} rich
 */
async function joinOnce(target, server, room, n, rich) {
  const members = Array.from({ length: n }, (_, i) => new Member(target, room, rich, i));
  await untilIdle(server);
  const t0 = now();
  const c = await connectAll(members);
  const opened = now();
  const settled = rich ? await until(() => members.every((m) => m.count === n), 60_000) : true;
  const t1 = now();
  const figures = {
    failed: c.failed,
    errors: c.errors,
    settled,
    open_s: (opened - t0) / 1000,
    done_s: (t1 - t0) / 1000,
    frames: sum(members, (m) => m.frames),
    bytes: sum(members, (m) => m.bytes),
  };
  for (const m of members) m.close();
  return { ...figures, leave_s: await untilIdle(server) };
}

/**
 * storm: N rich joins and N bare joins on the project (two fresh rooms),
 * N bare joins elsewhere (the minimal room and raw ws have no presence: they
 * are the floor for accepting sockets).
 * @param {Target} target @param {{ pid: number }} server
 * @param {(scenario: string) => string} freshRoom @param {number} n
 * @param {{ opened: (n: number) => void, loaded: () => void }} m
 */
export async function storm(target, server, freshRoom, n, m) {
  const project = target.protocol === "project";
  const bare = await joinOnce(target, server, freshRoom(`storm-bare-${n}`), n, false);
  m.opened(n - bare.failed);
  const rich = project
    ? await joinOnce(target, server, freshRoom(`storm-rich-${n}`), n, true)
    : null;
  m.loaded();
  const failed = bare.failed + (rich?.failed ?? 0);
  return {
    members: n,
    conn_per_s: Math.round((n - bare.failed) / bare.open_s),
    bare_join_s: round(bare.done_s),
    // Until the server is idle after all N closed: what a mass disconnect costs.
    leave_s: round(bare.leave_s),
    ...(rich
      ? {
          rich_open_s: round(rich.open_s),
          rich_join_s: round(rich.done_s),
          rich_settled: rich.settled,
          rich_vs_bare: round(rich.done_s / bare.done_s),
          frames_per_member: round(rich.frames / n, 1),
          mb_received: round(rich.bytes / 2 ** 20, 1),
          lost: rich.settled ? 0 : n,
        }
      : {}),
    conn_failed: failed,
    ...(failed ? { conn_errors: [...bare.errors, ...(rich?.errors ?? [])] } : {}),
  };
}

/**
 * redeploy: N members (rich on the project) in a room with 20 messages; the
 * server restarts (every socket closes) on the same port and state; every
 * member reconnects on the room page's schedule, with `since`; 20 more
 * messages are injected as soon as the server is up. Done when every member
 * holds ids 1..40 exactly once and knows all N members (project), or when
 * all N are open again (the others have no history or presence).
 * @param {Target} target @param {{ restart: () => Promise<void> }} server
 * @param {(scenario: string) => string} freshRoom @param {number} n
 * @param {{ opened: (n: number) => void, loaded: () => void }} m
 */
export async function redeploy(target, server, freshRoom, n, m) {
  const rich = target.protocol === "project";
  const room = freshRoom(`redeploy-${n}`);
  const post = async (/** @type {string} */ message) => {
    const res = await fetch(
      `http://127.0.0.1:${target.port}/api/rooms/${encodeURIComponent(room)}/messages`,
      {
        method: "POST",
        headers: { Authorization: `Bearer ${target.token}`, "Content-Type": "application/json" },
        body: JSON.stringify({ message }),
      },
    );
    if (res.status !== 201) throw new Error(`inject: HTTP ${res.status}`);
  };
  const members = Array.from({ length: n }, (_, i) => new Member(target, room, rich, i));
  try {
    const c = await connectAll(members);
    if (c.failed) throw new Error(`${c.failed} members could not join: ${c.errors[0]}`);
    m.opened(n);
    if (rich) {
      for (let i = 1; i <= REDEPLOY_MESSAGES; i++) await post(`before ${i}`);
      await until(
        () => members.every((x) => x.ids.length === REDEPLOY_MESSAGES && x.count === n),
        60_000,
      );
    }
    for (const x of members) x.reconnect = true;
    const framesBefore = sum(members, (x) => x.frames);
    const bytesBefore = sum(members, (x) => x.bytes);
    const tStop = now();
    await server.restart();
    const tUp = now();
    const last = 2 * REDEPLOY_MESSAGES;
    if (rich) for (let i = 1; i <= REDEPLOY_MESSAGES; i++) await post(`after ${i}`);
    const done = await until(
      () =>
        members.every((x) =>
          rich ? x.welcomed && x.ids.at(-1) === last && x.count === n : x.open,
        ),
      120_000,
    );
    const tDone = now();
    m.loaded();
    let lost = 0;
    let duplicated = 0;
    if (rich)
      for (const x of members) {
        const seen = new Set(x.ids);
        duplicated += x.ids.length - seen.size;
        for (let id = 1; id <= last; id++) if (!seen.has(id)) lost++;
      }
    const frames = sum(members, (x) => x.frames) - framesBefore;
    return {
      members: n,
      resumed: done,
      restart_s: round((tUp - tStop) / 1000),
      resumed_after_up_s: round((tDone - tUp) / 1000),
      ...(rich
        ? {
            frames_per_member: round(frames / n, 1),
            mb_received: round((sum(members, (x) => x.bytes) - bytesBefore) / 2 ** 20, 1),
            lost,
            duplicated,
          }
        : {}),
      conn_failed: done ? 0 : members.filter((x) => !x.open).length,
    };
  } finally {
    for (const x of members) x.close();
    await sleep(1000);
  }
}
