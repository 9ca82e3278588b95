/**
 * @module giant-room
 * The giant-room scenario of issue 23: one room of N members (2,000 and
 * 4,000 in a full run), a few of which send, first at a fixed rate, then as
 * fast as possible. On the project it runs against a server started with
 * `ROOM_RELAYS` = 1 (`giant<N>`) or 4 (`giantrelays<N>`), so the two can be
 * compared at the same N in one sitting; the minimal room and raw ws run
 * `giant<N>` as the floor.
 *
 * Besides the delivery figures of the other fan-out scenarios it reports,
 * per message, the latency of the first and of the last member to receive it
 * (the spread of one fan-out over N sockets, and over K relays), and the
 * server's CPU per delivered frame and per message in each phase separately
 * (the fixed rate shows the cost when the server keeps up; as fast as
 * possible, the cost at saturation).
 */
import { Client, closeAll, connectAll, paced, Room, Run } from "./loadgen.mjs";
import { treeSample } from "./proc.mjs";

/** @typedef {import("./loadgen.mjs").Target} Target */
/** @typedef {{ members: number, senders: number, rate: number, seconds: number, inflight: number, relays: number }} GiantSize */

const sleep = (/** @type {number} */ ms) => new Promise((r) => setTimeout(r, ms));
const round = (/** @type {number | null} */ x, d = 1) =>
  x === null || !Number.isFinite(x) ? null : Math.round(x * 10 ** d) / 10 ** d;

/**
 * CPU seconds used so far by the server's whole process tree, and by the
 * workerd that runs the Worker and its objects alone (wrangler's proxy
 * workerd, which forwards every frame under `wrangler dev`, has no
 * counterpart on Cloudflare: the capacity model reads this one).
 */
function cpuOf(/** @type {{ pid: number }} */ server) {
  const tree = treeSample(server.pid);
  return {
    all: tree.reduce((a, p) => a + p.cpu, 0),
    user: tree.filter((p) => p.role === "workerd-user").reduce((a, p) => a + p.cpu, 0),
  };
}
/** @param {{ all: number, user: number }} a @param {{ all: number, user: number }} b */
const cpuSince = (a, b) => ({ all: b.all - a.all, user: b.user - a.user });

/**
 * The figures of one phase, prefixed (`""` for the fixed rate, `"max_"` for
 * as fast as possible).
 * @param {Run} run @param {{ all: number, user: number }} cpu server CPU seconds during the phase
 * @param {string} prefix
 */
function phaseFigures(run, cpu, prefix) {
  const all = run.latency.summary();
  const first = run.firstLatency.summary();
  const last = run.lastLatency.summary();
  const span = (run.lastDelivery - run.firstSend) / 1000;
  /** @type {Record<string, number | null>} */
  const f = {
    frames_per_s: span > 0 ? Math.round(run.unique / span) : null,
    msgs_per_s: span > 0 ? round(run.lastLatency.count / span, 2) : null,
    p50_ms: round(all.p50, 2),
    p99_ms: round(all.p99, 2),
    first_p50_ms: round(first.p50, 2),
    first_p99_ms: round(first.p99, 2),
    last_p50_ms: round(last.p50, 2),
    last_p99_ms: round(last.p99, 2),
    cpu_us_per_frame: run.unique ? round((cpu.all * 1e6) / run.unique, 2) : null,
    cpu_us_per_msg: run.sent ? round((cpu.all * 1e6) / run.sent, 0) : null,
    // Non-workerd targets (raw ws) have no such process: null.
    cpu_user_us_per_frame: run.unique && cpu.user ? round((cpu.user * 1e6) / run.unique, 2) : null,
    cpu_user_us_per_msg: run.sent && cpu.user ? round((cpu.user * 1e6) / run.sent, 0) : null,
    sent: run.sent,
    delivered: run.unique,
    lost: run.expected - run.unique,
    duplicated: run.dup,
    reordered: run.reorder,
    error_frames: run.errors,
  };
  // The fixed-rate phase keeps the usual names, except its CPU per frame: the
  // harness's own cpu_us_per_frame covers both phases.
  return Object.fromEntries(
    Object.entries(f).map(([k, v]) => [
      prefix === "" && k.startsWith("cpu_") ? `fixed_${k}` : `${prefix}${k}`,
      v,
    ]),
  );
}

/**
 * One giant room on `target` (a server started with `s.relays` relays), both
 * phases, with its sockets closed at the end also when it fails.
 * @param {Target} target @param {{ pid: number }} server @param {string} roomName
 * @param {GiantSize} s @param {number} drainMs
 * @param {{ opened: (n: number) => void, loaded: () => void }} m
 */
export async function giant(target, server, roomName, s, drainMs, m) {
  const fixed = new Run();
  const room = new Room(roomName, s.senders);
  const list = Array.from(
    { length: s.members },
    (_, i) => new Client(fixed, target, room, { senderIndex: i < s.senders ? i : -1 }),
  );
  const senders = list.slice(0, s.senders);
  try {
    const c = await connectAll(list, 100);
    m.opened(c.opened);
    if (c.failed) return { members: s.members, conn_failed: c.failed, conn_errors: c.errors };
    // Let the joins' presence traffic settle before measuring delivery.
    await sleep(1000);

    let k = 0;
    let cpu0 = cpuOf(server);
    await paced(s.rate, s.seconds, (n) => {
      for (let i = 0; i < n; i++) senders[k++ % senders.length]?.send();
    });
    await fixed.drain(drainMs);
    const fixedCpu = cpuSince(cpu0, cpuOf(server));

    // As fast as possible: the next message as soon as one reached everyone,
    // `inflight` at a time. Same sockets and per-sender sequences, a new tally.
    const max = new Run();
    for (const client of list) client.run = max;
    let stop = false;
    max.onComplete = () => {
      if (!stop) senders[k++ % senders.length]?.send();
    };
    const watchdog = setInterval(() => max.expire(15_000), 200);
    cpu0 = cpuOf(server);
    for (let i = 0; i < s.inflight; i++) senders[k++ % senders.length]?.send();
    await sleep(s.seconds * 1000);
    stop = true;
    await max.drain(drainMs);
    clearInterval(watchdog);
    const maxCpu = cpuSince(cpu0, cpuOf(server));
    m.loaded();

    const a = phaseFigures(fixed, fixedCpu, "");
    const b = phaseFigures(max, maxCpu, "max_");
    return {
      members: s.members,
      relays: s.relays,
      senders: s.senders,
      fixed_rate: s.rate,
      ...a,
      ...b,
      // Both phases together: what the harness's CPU per frame and the loss checks read.
      delivered: (a.delivered ?? 0) + (b.max_delivered ?? 0),
      lost: (a.lost ?? 0) + (b.max_lost ?? 0),
      duplicated: (a.duplicated ?? 0) + (b.max_duplicated ?? 0),
      reordered: (a.reordered ?? 0) + (b.max_reordered ?? 0),
      error_frames: (a.error_frames ?? 0) + (b.max_error_frames ?? 0),
      timed_out: max.abandoned,
      conn_per_s: c.seconds > 0 ? Math.round(c.opened / c.seconds) : null,
      conn_failed: c.failed,
    };
  } finally {
    await closeAll(list);
  }
}
