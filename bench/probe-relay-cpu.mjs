/**
 * @module probe-relay-cpu
 * Investigation tool for issue 23 (why a frame sent by a relay costs more
 * than one sent by the room): one room on a server with ROOM_RELAYS=1 and
 * one on a server with ROOM_RELAYS=K (and optionally a modified copy of the
 * project, `--alt-dir`), each with N members connected once, then measured
 * in interleaved rounds. Prints, per round, CPU per delivered frame of the
 * user workerd (the Worker and every object), wrangler's proxy workerd and
 * the whole tree, and the medians' ratios. Not part of `npm run bench`.
 *
 *   node bench/probe-relay-cpu.mjs [--members=2000] [--relays=4] [--seconds=8] [--rounds=2]
 *       [--rate=5]              a fixed rate (messages/s) instead of as fast as possible
 *       [--direct]              straight to the user workerd, past wrangler's proxy
 *       [--project-dir=DIR]     run a copy of the project (both servers)
 *       [--alt-dir=DIR]         a third server from DIR with the same relays (a prototype)
 *       [--state-dir=/dev/shm]  the servers' storage there (tmpfs: no fsync cost)
 *       [--perf-stat]           count events per frame in the user workerd (`perf stat`):
 *       [--events=E1,E2]          syscalls by default, or these (e.g. uprobes)
 *       [--perf-record=DIR]     `perf record -g` the user workerd per round (or --events)
 */
import { spawn } from "node:child_process";
import { rmSync } from "node:fs";
import { Client, closeAll, connectAll, paced, Room, Run } from "./lib/loadgen.mjs";
import { treeSample } from "./lib/proc.mjs";
import { killAll, makeTmp, setStateBase, startProject } from "./lib/servers.mjs";

const argv = process.argv.slice(2);
const option = (/** @type {string} */ n) =>
  argv.find((a) => a.startsWith(`--${n}=`))?.slice(n.length + 3);
const flag = (/** @type {string} */ n) => argv.includes(`--${n}`);
const members = Number(option("members") ?? 2000);
const seconds = Number(option("seconds") ?? 8);
const rounds = Number(option("rounds") ?? 2);
const relays = Number(option("relays") ?? 4);
const senders = 5;
const inflight = 5;
const perfStat = flag("perf-stat");
/** Messages/s for a fixed-rate phase instead of as fast as possible. */
const rate = option("rate") ? Number(option("rate")) : null;
const perfRecord = option("perf-record");
const sleep = (/** @type {number} */ ms) => new Promise((r) => setTimeout(r, ms));

process.on("exit", killAll);
process.on("SIGINT", () => process.exit(130));

setStateBase(option("state-dir"));
const tmp = makeTmp();
const servers = {
  one: await startProject(tmp, option("project-dir"), { name: "one", vars: { ROOM_RELAYS: "1" } }),
  relays: await startProject(tmp, option("project-dir"), {
    name: "relays",
    vars: { ROOM_RELAYS: String(relays) },
  }),
  /** A modified copy of the project (--alt-dir), with the same relays. */
  alt: option("alt-dir")
    ? await startProject(tmp, option("alt-dir"), {
        name: "alt",
        vars: { ROOM_RELAYS: String(option("alt-relays") ?? relays) },
      })
    : null,
};

const cpu = (/** @type {number} */ pid) => {
  const t = treeSample(pid);
  const sum = (/** @type {(r: string) => boolean} */ f) =>
    t.filter((p) => f(p.role)).reduce((a, p) => a + p.cpu, 0);
  return {
    user: sum((r) => r === "workerd-user"),
    proxy: sum((r) => r === "workerd-proxy"),
    all: sum(() => true),
  };
};

const SYSCALLS = [
  "write",
  "writev",
  "sendmsg",
  "sendto",
  "read",
  "readv",
  "recvfrom",
  "recvmsg",
  "epoll_wait",
  "epoll_pwait",
  "futex",
].map((s) => `syscalls:sys_enter_${s}`);
/** Extra events to count (e.g. uprobes: probe_workerd:wssend,probe_workerd:pumpstart). */
const EVENTS = option("events")?.split(",") ?? SYSCALLS;

/** @param {number} pid @param {string} label */
function startPerf(pid, label) {
  if (!perfStat && !perfRecord) return async () => "";
  const args = perfStat
    ? ["stat", "-x", ",", "-e", EVENTS.join(","), "-p", String(pid)]
    : option("events")
      ? ["record", "-e", EVENTS.join(","), "-o", `${perfRecord}/${label}.data`, "-p", String(pid)]
      : ["record", "-F", "1999", "-g", "-o", `${perfRecord}/${label}.data`, "-p", String(pid)];
  const p = spawn("perf", args, { stdio: ["ignore", "ignore", "pipe"] });
  let err = "";
  p.stderr.on("data", (b) => (err += b));
  const exited = new Promise((r) => p.once("exit", r));
  return async () => {
    p.kill("SIGINT");
    await exited;
    return err;
  };
}

/** @param {"one" | "relays" | "alt"} which */
async function setUp(which) {
  const s = /** @type {import("./lib/servers.mjs").Server} */ (servers[which]);
  // --direct: straight to the workerd that runs the Worker, past wrangler's proxy.
  const port = flag("direct") ? await s.directPort() : s.port;
  if (port === null) throw new Error(`${which}: no direct port`);
  const target = { name: which, protocol: /** @type {const} */ ("project"), port, token: s.token };
  const fixed = new Run();
  const room = new Room(`probe-${which}-${Date.now()}`, senders);
  const list = Array.from(
    { length: members },
    (_, i) => new Client(fixed, target, room, { senderIndex: i < senders ? i : -1 }),
  );
  const c = await connectAll(list, 100);
  if (c.failed) throw new Error(`${which}: ${c.failed} failed ${c.errors.join(" ")}`);
  const user = treeSample(s.pid).find((p) => p.role === "workerd-user");
  return { s, list, senders: list.slice(0, senders), userPid: user?.pid ?? 0, k: 0 };
}

/** @param {Awaited<ReturnType<typeof setUp>>} u @param {string} label */
async function maxPhase(u, label) {
  const run = new Run();
  for (const client of u.list) client.run = run;
  let stop = false;
  run.onComplete = () => {
    if (!stop) u.senders[u.k++ % u.senders.length]?.send();
  };
  const stopPerf = startPerf(u.userPid, label);
  const c0 = cpu(u.s.pid);
  const t0 = performance.now();
  if (rate !== null) {
    stop = true;
    await paced(rate, seconds, (n) => {
      for (let i = 0; i < n; i++) u.senders[u.k++ % u.senders.length]?.send();
    });
  } else {
    for (let i = 0; i < inflight; i++) u.senders[u.k++ % u.senders.length]?.send();
    await sleep(seconds * 1000);
  }
  stop = true;
  await run.drain(10_000);
  const c1 = cpu(u.s.pid);
  const perfOut = await stopPerf();
  const us = (/** @type {number} */ x) => Math.round((x * 1e7) / run.unique) / 10;
  const row = {
    label,
    msgs: run.sent,
    frames: run.unique,
    frames_per_s: Math.round(run.unique / ((performance.now() - t0) / 1000)),
    lost: run.expected - run.unique,
    dup: run.dup,
    reorder: run.reorder,
    all_us: us(c1.all - c0.all),
    user_us: us(c1.user - c0.user),
    proxy_us: us(c1.proxy - c0.proxy),
  };
  console.log(JSON.stringify(row));
  if (perfStat) {
    for (const line of perfOut.split("\n")) {
      if (process.env.RAW) console.log(line);
      const [count, , event] = line.split(",");
      if (event && EVENTS.includes(event))
        console.log(
          `  ${event.replace(/^(syscalls:sys_enter_|probe_workerd:)/, "").padEnd(12)} ${String(count).padStart(9)}  ${(Number(count) / run.unique).toFixed(3)} per frame`,
        );
    }
  }
  return row;
}

const one = await setUp("one");
const many = await setUp("relays");
const alt = servers.alt ? await setUp("alt") : null;
await sleep(1500);
console.log(
  `uptime: ${(await import("node:os"))
    .loadavg()
    .map((x) => x.toFixed(2))
    .join(" ")}`,
);
const rows = [];
for (let r = 0; r < rounds; r++) {
  rows.push(await maxPhase(one, `one-${r}`));
  rows.push(await maxPhase(many, `relays${relays}-${r}`));
  if (alt) rows.push(await maxPhase(alt, `alt-${r}`));
}
const med = (/** @type {number[]} */ xs) => xs.toSorted((a, b) => a - b)[Math.floor(xs.length / 2)];
for (const k of /** @type {const} */ (["all_us", "user_us", "proxy_us"])) {
  const a = med(rows.filter((r) => r.label.startsWith("one")).map((r) => r[k]));
  const b = med(rows.filter((r) => r.label.startsWith("relays")).map((r) => r[k]));
  const c = alt ? med(rows.filter((r) => r.label.startsWith("alt")).map((r) => r[k])) : null;
  console.log(
    `${k}: one ${a}, relays ${b}, ratio ${(b / a).toFixed(3)}` +
      (c !== null ? `; alt ${c}, ratio ${(c / a).toFixed(3)}` : ""),
  );
}
await closeAll(one.list);
await closeAll(many.list);
if (alt) await closeAll(alt.list);
// Stopping a server removes its state dir (also under --state-dir); then the copies go.
for (const s of Object.values(servers)) await s?.stop();
rmSync(tmp, { recursive: true, force: true });
process.exit(0);
