/**
 * `npm run bench:storm`: big rooms joining at once and coming back after a
 * restart, against the project and the minimal room (bench/minimal) in one
 * sitting, on one machine.
 *
 * storm: N members join one fresh room at once, 50 handshakes in flight.
 *   project rich: `?rich=1` as the room page joins; done when every member
 *     has been told (welcome or presence) that the room has N members.
 *   project bare: no `rich`; done when every socket is open.
 *   minimal bare: the minimal room (accept and nothing else); done when open.
 *   The minimal room has no presence at all: it is the floor for accepting
 *   sockets, not a presence implementation.
 * redeploy: N rich members in a room with 20 messages; the server is stopped
 *   (SIGTERM, every socket closes) and started again on the same port and
 *   state; each member reconnects after a random 0.5-2 s (growing 1.6x per
 *   failed attempt), as the room page does, with `since` = the last id it
 *   holds; 20 more messages are injected as soon as the server is up. Done
 *   when every member holds ids 1..40 and knows all N members. Reported: time
 *   from "server up" to done, frames and bytes received meanwhile, lost and
 *   duplicated ids. The minimal room: the same restart, done when all N have
 *   reopened (it has no history to resume).
 *
 *   npm run bench:storm                    # N = 1,000 and 2,000; redeploy N = 1,000
 *   npm run bench:storm -- --sizes=200 --redeploy=200
 *
 * Writes bench/results/<date>-storm.json and .md.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { WebSocket } from "ws";
import { startDevServer } from "../scripts/dev-server.ts";
import { machineInfo } from "./lib/proc.mjs";
import { PROJECT_OVERRIDES, ROOT } from "./lib/servers.mjs";

const { values: flags } = parseArgs({
  options: {
    sizes: { type: "string", default: "1000,2000" },
    redeploy: { type: "string", default: "1000" },
    out: { type: "string", default: join(ROOT, "bench", "results") },
  },
});
const SIZES = flags.sizes.split(",").map(Number);
const REDEPLOY = Number(flags.redeploy);
const CONCURRENCY = 50;
const sleep = (/** @type {number} */ ms) => new Promise((r) => setTimeout(r, ms));
const round = (/** @type {number} */ x, d = 2) => Math.round(x * 10 ** d) / 10 ** d;

/** One member: counts what it receives and keeps what the protocol says to keep. */
class Member {
  /** @param {string} base @param {string} room @param {boolean} rich @param {number} i */
  constructor(base, room, rich, i) {
    this.base = base;
    this.room = room;
    this.rich = rich;
    this.name = `m${i}`;
    this.frames = 0;
    this.bytes = 0;
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
    return `${this.base}/ws/chat/${encodeURIComponent(this.room)}/?${q}`;
  }

  /** @returns {Promise<void>} */
  connect() {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(this.url(), { perMessageDeflate: false });
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

  /** The room page's schedule: a fresh random 0.5-2 s, times 1.6 per failed attempt. */
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
  const worker = async () => {
    while (next < members.length) {
      const m = /** @type {Member} */ (members[next++]);
      try {
        await m.connect();
      } catch {
        failed++;
      }
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  return failed;
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

/** @param {string} base @param {number} n @param {boolean} rich */
async function storm(base, n, rich) {
  const room = `storm-${rich ? "rich" : "bare"}-${n}-${Date.now()}`;
  const members = Array.from({ length: n }, (_, i) => new Member(base, room, rich, i));
  const load = loadavg()[0] ?? 0;
  const t0 = performance.now();
  const failed = await connectAll(members);
  const opened = performance.now();
  const settled = rich ? await until(() => members.every((m) => m.count === n), 60_000) : true;
  const t1 = performance.now();
  const frames = members.reduce((a, m) => a + m.frames, 0);
  const bytes = members.reduce((a, m) => a + m.bytes, 0);
  for (const m of members) m.close();
  await sleep(3000);
  return {
    n,
    rich,
    failed,
    settled,
    open_s: round((opened - t0) / 1000),
    done_s: round((t1 - t0) / 1000),
    conn_per_s: Math.round(n / ((opened - t0) / 1000)),
    frames,
    frames_per_member: round(frames / n, 1),
    mb: round(bytes / 2 ** 20),
    loadavg_1m_at_start: round(load),
  };
}

/** @param {"project" | "minimal"} kind @param {number} n */
async function redeploy(kind, n) {
  const rich = kind === "project";
  const options =
    kind === "project"
      ? { vars: PROJECT_OVERRIDES }
      : { config: join(ROOT, "bench", "minimal", "wrangler.toml") };
  let server = await startDevServer(options);
  const base = server.url.replace("http", "ws");
  const room = `redeploy-${n}-${Date.now()}`;
  const post = async (/** @type {string} */ message) => {
    const res = await fetch(`${server.url}/api/rooms/${encodeURIComponent(room)}/messages`, {
      method: "POST",
      headers: { Authorization: `Bearer ${server.token}`, "Content-Type": "application/json" },
      body: JSON.stringify({ message }),
    });
    if (res.status !== 201) throw new Error(`inject: HTTP ${res.status}`);
  };
  const members = Array.from({ length: n }, (_, i) => new Member(base, room, rich, i));
  try {
    const failed = await connectAll(members);
    if (rich) {
      for (let i = 1; i <= 20; i++) await post(`before ${i}`);
      await until(() => members.every((m) => m.ids.length === 20 && m.count === n), 60_000);
    }
    for (const m of members) m.reconnect = true;
    const load = loadavg()[0] ?? 0;
    const framesBefore = members.reduce((a, m) => a + m.frames, 0);
    const bytesBefore = members.reduce((a, m) => a + m.bytes, 0);
    const tStop = performance.now();
    await server.stop();
    server = await startDevServer({ ...options, port: server.port, persistTo: server.persistTo });
    const tUp = performance.now();
    if (rich) for (let i = 1; i <= 20; i++) await post(`after ${i}`);
    const done = await until(
      () =>
        members.every((m) => (rich ? m.welcomed && m.ids.at(-1) === 40 && m.count === n : m.open)),
      120_000,
    );
    const tDone = performance.now();
    let lost = 0;
    let duplicated = 0;
    if (rich)
      for (const m of members) {
        const seen = new Set(m.ids);
        duplicated += m.ids.length - seen.size;
        for (let id = 1; id <= 40; id++) if (!seen.has(id)) lost++;
      }
    return {
      n,
      kind,
      failed,
      done,
      restart_s: round((tUp - tStop) / 1000),
      resumed_after_up_s: round((tDone - tUp) / 1000),
      frames: members.reduce((a, m) => a + m.frames, 0) - framesBefore,
      frames_per_member: round((members.reduce((a, m) => a + m.frames, 0) - framesBefore) / n, 1),
      mb: round((members.reduce((a, m) => a + m.bytes, 0) - bytesBefore) / 2 ** 20),
      lost,
      duplicated,
      loadavg_1m_at_start: round(load),
    };
  } finally {
    for (const m of members) m.close();
    await server.stop();
  }
}

const machine = machineInfo();
const date = new Date().toISOString().slice(0, 10);
console.log(
  `bench:storm on ${machine.cpu}, ${machine.cores} cores, load ${machine.loadavg.join(" ")}`,
);
/** @type {Record<string, unknown>[]} */
const stormRows = [];
const project = await startDevServer({ vars: PROJECT_OVERRIDES });
const minimal = await startDevServer({ config: join(ROOT, "bench", "minimal", "wrangler.toml") });
try {
  for (const n of SIZES) {
    // Interleaved, so a burst of load from elsewhere hits all three alike.
    for (const [label, base, rich] of /** @type {const} */ ([
      ["project rich", project.url, true],
      ["project bare", project.url, false],
      ["minimal bare", minimal.url, false],
    ])) {
      const row = { target: label, ...(await storm(base.replace("http", "ws"), n, rich)) };
      console.log(JSON.stringify(row));
      stormRows.push(row);
    }
  }
} finally {
  await project.stop();
  await minimal.stop();
}
/** @type {Record<string, unknown>[]} */
const redeployRows = [];
for (const kind of /** @type {const} */ (["project", "minimal"])) {
  const row = await redeploy(kind, REDEPLOY);
  console.log(JSON.stringify(row));
  redeployRows.push(row);
}

const by = (/** @type {string} */ t, /** @type {number} */ n) =>
  /** @type {any} */ (stormRows.find((r) => r.target === t && r.n === n));
const md = [
  `# Storm and redeploy ${date}`,
  "",
  `Machine: ${machine.cpu}, ${machine.cores} cores, ${machine.memory_gb} GB; load average at start ${machine.loadavg.join(" / ")}. Command: \`npm run bench:storm -- --sizes=${flags.sizes} --redeploy=${REDEPLOY}\`. Servers: \`wrangler dev\` (project with ${Object.keys(PROJECT_OVERRIDES).join(", ")} raised so one address may open them all; the minimal room of bench/minimal). Load generator on the same machine, 50 handshakes in flight.`,
  "",
  "## Storm: N members join one room at once",
  "",
  "| N | target | all open s | done s | conn/s | frames | frames/member | MB | failed | load 1m |",
  "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
  ...stormRows.map(
    (r) =>
      `| ${r.n} | ${r.target} | ${r.open_s} | ${r.done_s}${r.settled ? "" : " (not settled)"} | ${r.conn_per_s} | ${r.frames} | ${r.frames_per_member} | ${r.mb} | ${r.failed} | ${r.loadavg_1m_at_start} |`,
  ),
  "",
  ...SIZES.map((n) => {
    const rich = by("project rich", n);
    const bare = by("project bare", n);
    const min = by("minimal bare", n);
    return `N = ${n}: rich joins take ${round(rich.done_s / bare.done_s)}x the time of bare joins (target at most 1.5x); bare joins ${round(bare.conn_per_s / min.conn_per_s)}x the minimal room's connections/s (target at least 0.8x); ${rich.frames_per_member} frames per rich member (target at most 50 at N = 1,000).`;
  }),
  "",
  "## Redeploy: a restart of a room with N rich members",
  "",
  "| N | target | restart s | all resumed after up, s | frames | frames/member | MB | lost | duplicated | load 1m |",
  "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
  ...redeployRows.map(
    (r) =>
      `| ${r.n} | ${r.kind} | ${r.restart_s} | ${r.resumed_after_up_s}${r.done ? "" : " (not done)"} | ${r.frames} | ${r.frames_per_member} | ${r.mb} | ${r.kind === "project" ? r.lost : "–"} | ${r.kind === "project" ? r.duplicated : "–"} | ${r.loadavg_1m_at_start} |`,
  ),
  "",
].join("\n");
mkdirSync(flags.out, { recursive: true });
const base = join(flags.out, `${date}-storm`);
writeFileSync(
  `${base}.json`,
  `${JSON.stringify({ date, machine, stormRows, redeployRows }, null, 2)}\n`,
);
writeFileSync(`${base}.md`, md);
console.log(`\n${md}\nresults: ${base}.json, ${base}.md`);
