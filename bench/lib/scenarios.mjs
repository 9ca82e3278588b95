/**
 * @module scenarios
 * The benchmark's scenarios. Each one opens fresh rooms, drives them, drains,
 * closes every socket it opened (also when it fails) and returns its figures.
 * Server CPU and memory come from /proc for the server's whole process tree.
 */
import { loadavg } from "node:os";
import { performance } from "node:perf_hooks";
import { redeploy, storm } from "./big-room.mjs";
import { giant } from "./giant-room.mjs";
import { randomBytes } from "node:crypto";
import { rmSync } from "node:fs";
import { startHookReceiver } from "./hook-receiver.mjs";
import { Client, closeAll, connectAll, Injector, paced, Room, Run } from "./loadgen.mjs";
import { machineCpu, treeSample } from "./proc.mjs";
import { makeTmp, startProject } from "./servers.mjs";
import { Histogram } from "./stats.mjs";

/** @typedef {import("./loadgen.mjs").Target} Target */
/** @typedef {Record<string, any>} Figures */

const now = () => performance.now();
const sleep = (/** @type {number} */ ms) => new Promise((r) => setTimeout(r, ms));
const round = (/** @type {number | null} */ x, d = 1) =>
  x === null || !Number.isFinite(x) ? null : Math.round(x * 10 ** d) / 10 ** d;

/** Sizes of every scenario: the (full) and a CI smoke size (quick). */
export const SIZES = {
  full: {
    drainMs: 5000,
    fixed: { clients: 100, senders: 10, rate: 200, seconds: 15 },
    max100: { clients: 100, senders: 10, inflight: 20, seconds: 10 },
    max1000: { clients: 1000, senders: 10, inflight: 20, seconds: 10 },
    rooms: { rooms: 50, perRoom: 10, perClientRate: 1, seconds: 15 },
    ramp: { conns: 2000, concurrency: 100 },
    inject: { listeners: 100, rate: 200, seconds: 10, lanes: 256 },
    history: {
      clients: 50,
      senders: 10,
      rate: 100,
      joiners: 200,
      concurrency: 20,
      stayMs: 1000,
      warmS: 2,
    },
    storm1000: { members: 1000 },
    storm2000: { members: 2000 },
    redeploy: { members: 1000 },
    hook: { clients: 100, senders: 10, rate: 200, seconds: 10, inflight: 20 },
    // 5 senders; the fixed rate is 10,000 frames/s in all (under one object's ceiling here).
    giant2000: { members: 2000, senders: 5, rate: 5, seconds: 10, inflight: 5, relays: 1 },
    giant4000: { members: 4000, senders: 5, rate: 2.5, seconds: 10, inflight: 5, relays: 1 },
    giantrelays2000: { members: 2000, senders: 5, rate: 5, seconds: 10, inflight: 5, relays: 4 },
    giantrelays4000: { members: 4000, senders: 5, rate: 2.5, seconds: 10, inflight: 5, relays: 4 },
  },
  quick: {
    drainMs: 2000,
    fixed: { clients: 20, senders: 4, rate: 40, seconds: 1.5 },
    max100: { clients: 20, senders: 4, inflight: 10, seconds: 1.5 },
    max1000: { clients: 100, senders: 4, inflight: 10, seconds: 1.5 },
    rooms: { rooms: 5, perRoom: 4, perClientRate: 2, seconds: 1.5 },
    ramp: { conns: 200, concurrency: 50 },
    inject: { listeners: 10, rate: 40, seconds: 1.5, lanes: 16 },
    history: {
      clients: 10,
      senders: 2,
      rate: 40,
      joiners: 20,
      concurrency: 5,
      stayMs: 200,
      warmS: 1.5,
    },
    storm1000: { members: 100 },
    storm2000: { members: 200 },
    redeploy: { members: 50 },
    hook: { clients: 20, senders: 4, rate: 40, seconds: 1.5, inflight: 10 },
    giant2000: { members: 100, senders: 5, rate: 20, seconds: 1.5, inflight: 5, relays: 1 },
    giant4000: { members: 200, senders: 5, rate: 20, seconds: 1.5, inflight: 5, relays: 1 },
    giantrelays2000: { members: 100, senders: 5, rate: 20, seconds: 1.5, inflight: 5, relays: 4 },
    giantrelays4000: { members: 200, senders: 5, rate: 20, seconds: 1.5, inflight: 5, relays: 4 },
  },
};

/** Scenario names in run order, with the label used in tables. */
export const SCENARIOS = /** @type {const} */ ([
  ["fixed", "fan-out, 10 senders at 200 msg/s total, 100 receivers"],
  ["max100", "fan-out as fast as possible (20 in flight), 100 receivers"],
  ["max1000", "fan-out as fast as possible (20 in flight), 1,000 receivers"],
  ["rooms", "50 rooms x 10 clients at 1 msg/s each"],
  ["ramp", "2,000 connections opened, 100 at a time"],
  ["inject", "inject API at 200 req/s, 100 listening"],
  ["history", "history on join under load (200 joiners, 20 at a time)"],
  ["storm1000", "storm: 1,000 members join one room at once (50 in flight)"],
  ["storm2000", "storm: 2,000 members join one room at once (50 in flight)"],
  ["redeploy", "redeploy: restart under a room of 1,000 members"],
  ["hook", "publish hook on (local receiver answering allow) vs off: 10 senders, 100 receivers"],
  ["giant2000", "giant room: 2,000 members, 5 senders, 5 msg/s then as fast as possible"],
  ["giant4000", "giant room: 4,000 members, 5 senders, 2.5 msg/s then as fast as possible"],
  ["giantrelays2000", "giant room over 4 relays (ROOM_RELAYS=4): 2,000 members, as giant2000"],
  ["giantrelays4000", "giant room over 4 relays (ROOM_RELAYS=4): 4,000 members, as giant4000"],
]);

/** Scenarios the project runs on its second server, started with ROOM_RELAYS = their size's relays. */
export const RELAY_SCENARIOS = new Set(["giantrelays2000", "giantrelays4000"]);

/** @template T @param {T[]} list @returns {T[]} a copy in random order (Fisher-Yates) */
function shuffled(list) {
  const out = [...list];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [out[i], out[j]] = [/** @type {T} */ (out[j]), /** @type {T} */ (out[i])];
  }
  return out;
}

let roomCounter = 0;
/** A room name never used before in this server's lifetime: no history from earlier scenarios. */
const freshRoom = (/** @type {string} */ scenario) =>
  `bench-${scenario}-${process.pid}-${Date.now().toString(36)}-${roomCounter++}`;

/**
 * Samples the server's process tree while `body` runs: CPU seconds by
 * process role, peak RSS, the machine's load from everyone else.
 * @param {{ pid: number, name: string }} server
 * @param {(m: { baseline: () => void, opened: (n: number) => void, loaded: () => void }) => Promise<Figures>} body
 */
async function measured(server, body) {
  const memRoles = (/** @type {ReturnType<typeof treeSample>} */ s) =>
    s.filter(
      (p) => p.role.startsWith("workerd") || server.name === "raw" || server.name.startsWith("raw"),
    );
  const rssOf = (/** @type {ReturnType<typeof treeSample>} */ s) =>
    memRoles(s).reduce((a, p) => a + p.rss, 0);
  const before = treeSample(server.pid);
  const cpuBefore = new Map(before.map((p) => [p.pid, p.cpu]));
  const machineBefore = machineCpu();
  const selfBefore = process.cpuUsage();
  const load = loadavg()[0] ?? 0;
  let baseline = rssOf(before);
  let peak = baseline;
  let maxOpen = 0;
  const cpuNow = () => treeSample(server.pid).reduce((a, p) => a + p.cpu, 0);
  const cpuStart = cpuNow();
  /** CPU seconds of the tree when the clients were connected and when the load was done. */
  let cpuConnected = null;
  let cpuLoaded = null;
  const timer = setInterval(() => {
    peak = Math.max(peak, rssOf(treeSample(server.pid)));
  }, 250);
  const t0 = now();
  let figures;
  try {
    figures = await body({
      baseline: () => {
        baseline = rssOf(treeSample(server.pid));
        peak = baseline;
      },
      opened: (n) => {
        cpuConnected ??= cpuNow();
        maxOpen = Math.max(maxOpen, n);
        peak = Math.max(peak, rssOf(treeSample(server.pid)));
      },
      loaded: () => {
        cpuLoaded ??= cpuNow();
      },
    });
  } finally {
    clearInterval(timer);
  }
  const after = treeSample(server.pid);
  /** @type {Record<string, number>} */
  const byRole = {};
  let cpu = 0;
  for (const p of after) {
    const d = p.cpu - (cpuBefore.get(p.pid) ?? 0);
    byRole[p.role] = round((byRole[p.role] ?? 0) + d, 2) ?? 0;
    cpu += d;
  }
  const self = process.cpuUsage(selfBefore);
  const selfS = (self.user + self.system) / 1e6;
  const machine = machineCpu();
  const busy = machine.busy - machineBefore.busy;
  return {
    ...figures,
    server_cpu_s: round(cpu, 2),
    server_cpu_by_process: byRole,
    // Only the sending phase (connected → drained), so connecting and closing sockets don't count.
    cpu_us_per_frame:
      figures.delivered && cpuConnected !== null && cpuLoaded !== null
        ? round(((cpuLoaded - cpuConnected) * 1e6) / figures.delivered, 1)
        : null,
    // Connecting phase: server CPU per connection opened.
    cpu_ms_per_conn:
      cpuConnected !== null && maxOpen
        ? round(((cpuConnected - cpuStart) * 1e3) / maxOpen, 2)
        : null,
    rss_mb: round(peak / 2 ** 20, 1),
    rss_kb_per_conn: maxOpen ? round((peak - baseline) / 1024 / maxOpen, 1) : null,
    open_conns: maxOpen,
    loadgen_cpu_s: round(selfS, 2),
    other_cpu_s: round(busy - cpu - selfS, 2),
    other_cpu_pct_of_core: Math.max(
      0,
      Math.round(((busy - cpu - selfS) / ((now() - t0) / 1000)) * 100),
    ),
    wall_s: round((now() - t0) / 1000, 1),
    loadavg_1m: round(load, 2),
  };
}

/** Delivery figures of a finished Run. */
function deliveryFigures(/** @type {Run} */ run) {
  const lat = run.latency.summary();
  const span = (run.lastDelivery - run.firstSend) / 1000;
  return {
    sent: run.sent,
    expected: run.expected,
    delivered: run.unique,
    frames_per_s: span > 0 ? Math.round(run.unique / span) : null,
    ws_frames_per_s: span > 0 ? Math.round(run.frames / span) : null,
    p50_ms: round(lat.p50, 2),
    p90_ms: round(lat.p90, 2),
    p99_ms: round(lat.p99, 2),
    max_ms: round(lat.max, 2),
    lost: run.expected - run.unique,
    duplicated: run.dup,
    reordered: run.reorder,
    error_frames: run.errors,
    ...(run.errorSamples.length ? { error_samples: run.errorSamples } : {}),
  };
}

/**
 * One room, `clients` members of which the first `senders` send.
 * @param {Target} target @param {string} scenario @param {Run} run @param {number} clients @param {number} senders
 */
function oneRoom(target, scenario, run, clients, senders) {
  const room = new Room(freshRoom(scenario), senders);
  const list = Array.from(
    { length: clients },
    (_, i) => new Client(run, target, room, { senderIndex: i < senders ? i : -1 }),
  );
  return { room, list, senders: list.slice(0, senders) };
}

/** @param {{ opened: number, failed: number, seconds: number, errors: string[] }} c */
function connectFigures(c) {
  return {
    conn_per_s: c.seconds > 0 ? Math.round(c.opened / c.seconds) : null,
    conn_failed: c.failed,
    ...(c.errors.length ? { conn_errors: c.errors } : {}),
  };
}

/**
 * @param {string} name
 * @param {Target} target
 * @param {{ pid: number, name: string, restart: () => Promise<void> }} server
 * @param {typeof SIZES.full} sizes
 * @returns {Promise<Figures>}
 */
export async function runScenario(name, target, server, sizes) {
  const drainMs = sizes.drainMs;
  switch (name) {
    case "fixed":
      return measured(server, (m) => fixedRate(target, name, sizes.fixed, drainMs, m));
    case "max100":
    case "max1000":
      return measured(server, (m) => asFastAsPossible(target, name, sizes[name], drainMs, m));
    case "hook":
      return hookOnAndOff(target, server, sizes.hook, drainMs);
    case "rooms": {
      const s = sizes.rooms;
      return measured(server, async (m) => {
        const run = new Run();
        /** @type {Client[]} */
        const all = [];
        for (let r = 0; r < s.rooms; r++) {
          const { list } = oneRoom(target, name, run, s.perRoom, s.perRoom);
          all.push(...list);
        }
        try {
          const c = await connectAll(all, 100);
          m.opened(c.opened);
          // Every client sends once per 1/perClientRate s; interleave rooms so the load is even.
          const order = shuffled(all);
          let k = 0;
          await paced(s.perClientRate * all.length, s.seconds, (n) => {
            for (let i = 0; i < n; i++) order[k++ % order.length]?.send();
          });
          await run.drain(drainMs);
          m.loaded();
          return { ...deliveryFigures(run), ...connectFigures(c) };
        } finally {
          await closeAll(all);
        }
      });
    }
    case "ramp": {
      const s = sizes.ramp;
      return measured(server, async (m) => {
        const run = new Run();
        const { list } = oneRoom(target, name, run, s.conns, 0);
        const handshake = new Histogram();
        try {
          m.baseline();
          const c = await connectAll(list, s.concurrency, handshake);
          await sleep(500);
          m.opened(c.opened);
          const h = handshake.summary();
          return {
            ...connectFigures(c),
            opened: c.opened,
            handshake_p50_ms: round(h.p50, 2),
            handshake_p99_ms: round(h.p99, 2),
            handshake_max_ms: round(h.max, 2),
            error_frames: run.errors,
          };
        } finally {
          await closeAll(list);
        }
      });
    }
    case "inject": {
      const s = sizes.inject;
      return measured(server, async (m) => {
        const run = new Run();
        const room = new Room(freshRoom(name), s.lanes);
        const list = Array.from({ length: s.listeners }, () => new Client(run, target, room));
        const injector = new Injector(run, target, room, s.lanes);
        try {
          const c = await connectAll(list, 100);
          m.opened(c.opened);
          const t0 = now();
          await paced(s.rate, s.seconds, (n) => {
            for (let i = 0; i < n; i++) injector.send();
          });
          await run.drain(drainMs);
          m.loaded();
          // Requests still waiting for an answer after the drain are not accepted.
          const span = ((injector.lastResponse || now()) - t0) / 1000;
          const http = injector.http.summary();
          return {
            ...deliveryFigures(run),
            req_offered: Math.round(s.rate * s.seconds),
            req_offered_per_s: s.rate,
            req_accepted: injector.accepted,
            req_per_s: span > 0 ? Math.round(injector.accepted / span) : null,
            req_rejected: injector.rejected,
            req_not_sent_all_lanes_busy: injector.skipped,
            http_p50_ms: round(http.p50, 2),
            http_p99_ms: round(http.p99, 2),
            ...(injector.samples.length ? { http_errors: injector.samples } : {}),
            ...connectFigures(c),
          };
        } finally {
          injector.close();
          await closeAll(list);
        }
      });
    }
    case "history":
      return measured(server, (m) => historyOnJoin(target, sizes.history, drainMs, m));
    case "storm1000":
    case "storm2000":
      return measured(server, (m) => storm(target, server, freshRoom, sizes[name].members, m));
    case "redeploy": {
      const f = await measured(server, (m) =>
        redeploy(target, server, freshRoom, sizes.redeploy.members, m),
      );
      // The restart replaces the server's processes: their CPU and memory figures would mix
      // two processes' lives (and a start-up), so only the load from others is kept.
      for (const k of ["server_cpu_s", "server_cpu_by_process", "cpu_ms_per_conn", "rss_mb"])
        delete f[k];
      delete f.rss_kb_per_conn;
      // The old server's shutdown is outside the new process tree: it would be
      // counted as other processes' load and the measurement retried as disturbed.
      delete f.other_cpu_s;
      delete f.other_cpu_pct_of_core;
      return f;
    }
    case "giant2000":
    case "giant4000":
    case "giantrelays2000":
    case "giantrelays4000": {
      // Relays are the project's; the floor (minimal, raw) runs giant<N> only.
      if (RELAY_SCENARIOS.has(name) && target.protocol !== "project")
        return { not_applicable: "relays are the project's: see giant<N>" };
      const s = sizes[name];
      return measured(server, (m) => giant(target, server, freshRoom(name), s, drainMs, m));
    }
    default:
      throw new Error(`unknown scenario ${name}`);
  }
}

/** @typedef {{ opened: (n: number) => void, loaded: () => void }} Marks */

/**
 * One room; its senders send `rate` messages per second in all for `seconds`.
 * @param {Target} target @param {string} scenario
 * @param {{ clients: number, senders: number, rate: number, seconds: number }} s
 * @param {number} drainMs @param {Marks} m
 */
async function fixedRate(target, scenario, s, drainMs, m) {
  const run = new Run();
  const { list, senders } = oneRoom(target, scenario, run, s.clients, s.senders);
  try {
    const c = await connectAll(list, 100);
    m.opened(c.opened);
    let k = 0;
    await paced(s.rate, s.seconds, (n) => {
      for (let i = 0; i < n; i++) senders[k++ % senders.length]?.send();
    });
    await run.drain(drainMs);
    m.loaded();
    m.opened(c.opened);
    return { ...deliveryFigures(run), ...connectFigures(c) };
  } finally {
    await closeAll(list);
  }
}

/**
 * One room; a new message is sent as soon as one is delivered to everyone,
 * `inflight` at a time, for `seconds`.
 * @param {Target} target @param {string} scenario
 * @param {{ clients: number, senders: number, inflight: number, seconds: number }} s
 * @param {number} drainMs @param {Marks} m
 */
async function asFastAsPossible(target, scenario, s, drainMs, m) {
  const run = new Run();
  const { list, senders } = oneRoom(target, scenario, run, s.clients, s.senders);
  try {
    const c = await connectAll(list, 100);
    m.opened(c.opened);
    let k = 0;
    let stop = false;
    const sendNext = () => {
      if (!stop) senders[k++ % senders.length]?.send();
    };
    run.onComplete = sendNext;
    const watchdog = setInterval(() => run.expire(10_000), 200);
    for (let i = 0; i < s.inflight; i++) sendNext();
    await sleep(s.seconds * 1000);
    m.opened(c.opened);
    stop = true;
    await run.drain(drainMs);
    m.loaded();
    clearInterval(watchdog);
    return { ...deliveryFigures(run), timed_out: run.abandoned, ...connectFigures(c) };
  } finally {
    await closeAll(list);
  }
}

/**
 * The publish hook's price: a second copy of the project with PUBLISH_HOOK_URL
 * pointing at a local receiver that answers allow, against `server` (hook
 * off), under the same loads: a fixed rate (latency) and as fast as possible
 * (throughput). The hook is the project's: other targets are not applicable.
 * @param {Target} target @param {{ pid: number, name: string }} server
 * @param {typeof SIZES.full.hook} s @param {number} drainMs
 * @returns {Promise<Figures>}
 */
async function hookOnAndOff(target, server, s, drainMs) {
  if (target.protocol !== "project") return { not_applicable: "the publish hook is the project's" };
  const secret = randomBytes(18).toString("base64url");
  const receiver = await startHookReceiver(secret);
  const tmp = makeTmp();
  const hooked = await startProject(tmp, undefined, {
    name: "project-hook",
    vars: { PUBLISH_HOOK_URL: receiver.url, WEBHOOK_SECRET: secret },
  }).catch(async (e) => {
    await receiver.stop();
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  });
  try {
    const on = { ...target, name: `${target.name}-hook`, port: hooked.port, token: hooked.token };
    const offFixed = await measured(server, (m) => fixedRate(target, "hook", s, drainMs, m));
    const onFixed = await measured(hooked, (m) => fixedRate(on, "hook", s, drainMs, m));
    const offMax = await measured(server, (m) => asFastAsPossible(target, "hook", s, drainMs, m));
    const onMax = await measured(hooked, (m) => asFastAsPossible(on, "hook", s, drainMs, m));
    if (receiver.badSignatures() > 0)
      throw new Error(`${receiver.badSignatures()} hook calls had a bad signature`);
    return {
      // Hook on, at the fixed rate: the table's usual latency and loss figures.
      ...onFixed,
      hook_calls: receiver.calls(),
      off_p50_ms: offFixed.p50_ms,
      off_p99_ms: offFixed.p99_ms,
      off_cpu_us_per_frame: offFixed.cpu_us_per_frame,
      max_frames_per_s: onMax.frames_per_s,
      off_max_frames_per_s: offMax.frames_per_s,
      max_p99_ms: onMax.p99_ms,
      off_max_p99_ms: offMax.p99_ms,
      max_lost: onMax.lost,
      max_error_frames: onMax.error_frames,
    };
  } finally {
    await hooked.stop();
    await receiver.stop();
    rmSync(tmp, { recursive: true, force: true });
  }
}

/**
 * A busy room (background senders and receivers) that joiners enter and
 * leave. For the project a joiner opts in to rich frames: the welcome's
 * lastId says which frames are history, and ids must run on without a gap
 * or repeat from the first history frame through the live ones. The minimal
 * room and raw ws have no history: their joiners are ready on open.
 * @param {Target} target @param {typeof SIZES.full.history} s @param {number} drainMs
 * @param {{ opened: (n: number) => void, loaded: () => void }} m
 */
async function historyOnJoin(target, s, drainMs, m) {
  const run = new Run();
  const { room, list, senders } = oneRoom(target, "history", run, s.clients, s.senders);
  const project = target.protocol === "project";
  const ready = new Histogram();
  /** @type {Client[]} */
  const joiners = [];
  let joinFailed = 0;
  /** @type {string[]} */
  const joinErrors = [];
  const sending = { stop: false };
  try {
    const c = await connectAll(list, 100);
    m.opened(c.opened);
    let k = 0;
    // Background load until the joiners are done.
    const load = (async () => {
      while (!sending.stop)
        await paced(s.rate, 1, (n) => {
          for (let i = 0; i < n; i++) senders[k++ % senders.length]?.send();
        });
    })();
    await sleep(s.warmS * 1000);
    let next = 0;
    const t0 = now();
    const joinOne = async () => {
      while (next < s.joiners) {
        next++;
        const j = new Client(run, target, room, { rich: project, joiner: true });
        joiners.push(j);
        const t = now();
        const gotHistory = new Promise((resolve) => (j.onReady = () => resolve(undefined)));
        try {
          await j.connect();
          if (project) await Promise.race([gotHistory, sleep(10_000)]);
          ready.record(now() - t);
          m.opened(c.opened + 1);
          await sleep(s.stayMs);
        } catch (e) {
          joinFailed++;
          if (joinErrors.length < 5) joinErrors.push(String(e));
        } finally {
          await j.close();
        }
      }
    };
    await Promise.all(Array.from({ length: s.concurrency }, joinOne));
    const joinSeconds = (now() - t0) / 1000;
    sending.stop = true;
    await load;
    await run.drain(drainMs);
    m.loaded();
    const r = ready.summary();
    const joined = joiners.length - joinFailed;
    return {
      ...deliveryFigures(run),
      ...connectFigures(c),
      joins: joined,
      join_failed: joinFailed,
      joins_per_s: Math.round(joined / joinSeconds),
      join_ready_p50_ms: round(r.p50, 2),
      join_ready_p99_ms: round(r.p99, 2),
      join_ready_max_ms: round(r.max, 2),
      history_frames_per_join: project
        ? round(joiners.reduce((a, j) => a + j.historyFrames, 0) / Math.max(1, joined), 1)
        : null,
      joiner_gaps: joiners.reduce((a, j) => a + j.unfilledGaps, 0),
      ...(joinErrors.length ? { join_errors: joinErrors } : {}),
    };
  } finally {
    sending.stop = true;
    await closeAll(list);
  }
}
