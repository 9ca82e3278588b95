/**
 * `npm run bench:slow`: members that never read, and a reconnect flood,
 * against the project and the minimal room (bench/minimal) in one sitting.
 *
 * Never-reading members: one room, 2 readers and 1 sender (acking every 100
 * messages on the project, as its room page does) and STUCK raw TCP
 * sockets that finish the WebSocket handshake and then never read a byte
 * (the kernel's buffers fill, then the server has to hold the rest). The
 * sender sends MESSAGES messages of about 2 KB, at most 50 ahead of the
 * slower reader. Reported: the server's memory (RSS of its workerd
 * processes) before and after, with the same traffic and no stuck member as
 * the baseline, how many stuck sockets the server closed (its stats API),
 * and whether the readers got every message once and in order.
 *
 * Reconnect flood (project only; the minimal room has no limits): one
 * address and one name reconnect ROUNDS times in a row, each time sending
 * 10 messages, against wrangler dev with the shipped limits.
 *
 *   npm run bench:slow                   # 20,000 messages (about 40 MB per member), 4 stuck
 *   npm run bench:slow -- --messages=5000 --stuck=8
 *
 * Writes bench/results/<date>-slow.json and .md.
 */
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { WebSocket } from "ws";
import { startDevServer } from "../scripts/dev-server.ts";
import { machineInfo, treeSample } from "./lib/proc.mjs";
import { killAll, makeTmp, ROOT, startMinimal, startProject } from "./lib/servers.mjs";

const { values: flags } = parseArgs({
  options: {
    messages: { type: "string", default: "20000" },
    stuck: { type: "string", default: "4" },
    rounds: { type: "string", default: "30" },
    out: { type: "string", default: join(ROOT, "bench", "results") },
  },
});
const MESSAGES = Number(flags.messages);
const STUCK = Number(flags.stuck);
const ROUNDS = Number(flags.rounds);
const PAD = "x".repeat(1950);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const mb = (b) => Math.round((b / 2 ** 20) * 10) / 10;

/** RSS of the server's workerd processes (the proxy and the one running the room). */
function workerdRss(pid) {
  return treeSample(pid)
    .filter((p) => p.role.startsWith("workerd"))
    .reduce((a, p) => a + p.rss, 0);
}

function openWs(url) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.on("open", () => resolve(ws));
    ws.on("error", reject);
    ws.on("unexpected-response", (_q, res) => reject(new Error(`HTTP ${res.statusCode}`)));
  });
}

/** A raw socket that completes the upgrade and then never reads. */
function stuckSocket(port, path) {
  return new Promise((resolve, reject) => {
    const s = connect(port, "127.0.0.1", () =>
      s.write(
        `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      ),
    );
    s.once("data", (d) => {
      if (!d.toString().startsWith("HTTP/1.1 101")) reject(new Error(d.toString().slice(0, 80)));
      s.pause();
      resolve(s);
    });
    s.on("error", () => {});
    s.closedAt = null;
    s.on("close", () => (s.closedAt = performance.now()));
  });
}

/**
 * A reader that checks it gets seq 1..n once, in order. With `acks` it
 * acknowledges every 100 messages, as the project's room page does.
 */
function reader(ws, acks) {
  const r = { got: 0, last: 0, lost: 0, dup: 0, reordered: 0 };
  ws.on("message", (data) => {
    for (const line of String(data).split("\n")) {
      const frame = JSON.parse(line);
      if (frame.type !== undefined && frame.type !== "chat") continue;
      if (acks && frame.id % 100 === 0) ws.send(JSON.stringify({ type: "ack", lastId: frame.id }));
      const seq = Number(/^seq (\d+) /.exec(frame.message)?.[1]);
      if (!seq) continue;
      r.got++;
      if (seq === r.last + 1) r.last = seq;
      else if (seq === r.last) r.dup++;
      else if (seq < r.last) r.reordered++;
      else {
        r.lost += seq - r.last - 1;
        r.last = seq;
      }
    }
  });
  return r;
}

/** Open sockets in the project's room, from its stats API (null for the minimal room). */
async function members(server, room) {
  if (!server.token) return null;
  const res = await fetch(`http://127.0.0.1:${server.port}/api/rooms/${room}`, {
    headers: { Authorization: `Bearer ${server.token}` },
  });
  return (await res.json()).members;
}

async function neverReading(server, target, stuckCount) {
  const room = `slow-${Date.now().toString(36)}`;
  const path = `/ws/chat/${room}/`;
  const url = `ws://127.0.0.1:${server.port}${path}`;
  const acks = target === "project";
  const readerSockets = [await openWs(url), await openWs(url)];
  const readers = readerSockets.map((ws) => reader(ws, acks));
  const sender = await openWs(url);
  // The sender is a member too: it reads (and acks) its own echoes.
  reader(sender, acks);
  await sleep(500);
  const before = workerdRss(server.pid);
  const stuck = [];
  for (let i = 0; i < stuckCount; i++) stuck.push(await stuckSocket(server.port, path));
  let peak = before;
  const sampler = setInterval(() => (peak = Math.max(peak, workerdRss(server.pid))), 250);
  const t0 = performance.now();
  for (let seq = 1; seq <= MESSAGES; seq++) {
    while (seq - Math.min(...readers.map((r) => r.last)) > 50) await sleep(1);
    sender.send(JSON.stringify({ message: `seq ${seq} ${PAD}` }));
  }
  const deadline = Date.now() + 60_000;
  while (readers.some((r) => r.last < MESSAGES) && Date.now() < deadline) await sleep(50);
  const seconds = (performance.now() - t0) / 1000;
  await sleep(2000);
  clearInterval(sampler);
  const after = workerdRss(server.pid);
  // The readers and the sender are 3 of the members; the rest are stuck sockets still open.
  const open = await members(server, room);
  for (const s of stuck) s.destroy();
  for (const ws of [...readerSockets, sender]) ws.close();
  await sleep(1000);
  return {
    target,
    messages: MESSAGES,
    stuck: stuckCount,
    mb_addressed_to_stuck: mb(MESSAGES * 2000 * stuckCount),
    seconds: Math.round(seconds * 10) / 10,
    rss_before_mb: mb(before),
    rss_peak_mb: mb(peak),
    rss_after_mb: mb(after),
    rss_growth_mb: mb(peak - before),
    stuck_closed_by_server: open === null ? null : stuckCount - (open - 3),
    readers: readers.map(({ got, lost, dup, reordered }) => ({ got, lost, dup, reordered })),
  };
}

async function reconnectFlood() {
  const server = await startDevServer({ logLevel: "warn" });
  try {
    const room = `flood-${Date.now().toString(36)}`;
    const url = `${server.url.replace("http", "ws")}/ws/chat/${room}/?name=flooder`;
    const before = workerdRss(server.process.pid);
    let accepted = 0;
    let limited = 0;
    const t0 = performance.now();
    for (let round = 0; round < ROUNDS; round++) {
      const ws = await openWs(url);
      const answers = [];
      ws.on("message", (d) => answers.push(JSON.parse(String(d))));
      for (let i = 0; i < 10; i++)
        ws.send(JSON.stringify({ message: `r${round} m${i}`, clientId: `r${round}-${i}` }));
      const mine = () => answers.filter((f) => String(f.clientId ?? "").startsWith(`r${round}-`));
      while (mine().length < 10) await sleep(2);
      accepted += mine().filter((f) => f.type === "chat").length;
      limited += mine().filter((f) => f.code === "rate_limited").length;
      ws.terminate();
    }
    return {
      rounds: ROUNDS,
      sent: ROUNDS * 10,
      seconds: Math.round((performance.now() - t0) / 100) / 10,
      accepted,
      rate_limited: limited,
      rss_before_mb: mb(before),
      rss_after_mb: mb(workerdRss(server.process.pid)),
    };
  } finally {
    await server.stop();
  }
}

const results = { date: new Date().toISOString(), machine: machineInfo(), slow: [], flood: null };
try {
  // Each run on a fresh server: RSS never shrinks, so a second run would start warm.
  for (const stuckCount of [0, STUCK])
    for (const [target, start] of [
      ["project", startProject],
      ["minimal", startMinimal],
    ]) {
      const tmp = makeTmp();
      const server = await start(tmp);
      try {
        const r = await neverReading(server, target, stuckCount);
        console.log(JSON.stringify(r));
        results.slow.push(r);
      } finally {
        await server.stop();
        rmSync(tmp, { recursive: true, force: true });
      }
    }
  results.flood = await reconnectFlood();
  console.log(JSON.stringify(results.flood));
} finally {
  killAll();
}

const [p0, m0, p, m] = results.slow;
const due = (withStuck, without) =>
  Math.round((withStuck.rss_growth_mb - without.rss_growth_mb) * 10) / 10;
const md = `# Never-reading members and a reconnect flood, ${results.date.slice(0, 10)}

${JSON.stringify(results.machine)}

${STUCK} members that never read in a room with 2 readers; ${MESSAGES} messages of about 2 KB (${p.mb_addressed_to_stuck} MB addressed to the stuck members).

| target | stuck | server RSS before | peak | after | growth | stuck sockets closed by the server | readers: got / lost / dup / reordered | seconds |
| ------ | ----- | ----------------- | ---- | ----- | ------ | ---------------------------------- | ------------------------------------- | ------- |
${results.slow
  .map(
    (r) =>
      `| ${r.target} | ${r.stuck} | ${r.rss_before_mb} MB | ${r.rss_peak_mb} MB | ${r.rss_after_mb} MB | ${r.rss_growth_mb} MB | ${r.stuck_closed_by_server ?? "n/a"} | ${r.readers.map((x) => `${x.got} / ${x.lost} / ${x.dup} / ${x.reordered}`).join("; ")} | ${r.seconds} |`,
  )
  .join("\n")}

Memory due to the ${STUCK} stuck members (growth with them minus growth without): project ${due(p, p0)} MB, minimal ${due(m, m0)} MB.

Reconnect flood (shipped limits: 20 per 10 s per sender): one name from one address, ${results.flood.rounds} sockets in a row, ${results.flood.sent} messages in ${results.flood.seconds} s: ${results.flood.accepted} accepted, ${results.flood.rate_limited} rate_limited.
`;
mkdirSync(flags.out, { recursive: true });
const base = join(flags.out, `${results.date.slice(0, 10)}-slow`);
writeFileSync(`${base}.json`, JSON.stringify(results, null, 2));
writeFileSync(`${base}.md`, md);
console.log(md);
process.exit(0);
