// Connections that die without a close frame (a laptop lid, a dropped
// network, a killed tab) must be let go by the server, the way a user runs
// it: a copy of the project with its .dev.vars and `npm run dev`. A room that
// forgets them but never closes them leaves their file descriptors open in
// the runtime; under `wrangler dev` a few thousand such disconnects ran it
// out of descriptors ("Too many open files") and it crashed, dropping every
// room. Linux only: descriptors are counted in /proc.
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import type { WebSocket } from "ws";
import { startProjectCopy, type ProjectCopy } from "../scripts/dev-server.ts";
import { openSocket } from "./open-socket.ts";

const devVars = { BROADCAST_TOKEN: `broadcast-${crypto.randomUUID()}` };
/** 75 sockets from each of 8: under the default cap of 100 sockets per address. */
const ADDRESSES = [
  "127.0.0.2",
  "127.0.0.3",
  "127.0.0.4",
  "127.0.0.5",
  "127.0.0.6",
  "127.0.0.7",
  "127.0.0.8",
  "127.0.0.9",
];
const SOCKETS = 600;
/** Descriptors the runtime may legitimately open meanwhile (logs, storage, timers). */
const SLACK = 40;
/** Closing 600 dead sockets took the room half a second on a 2-core VM. */
const RELEASE_MS = 8_000;

let server: ProjectCopy;

before(async () => {
  server = await startProjectCopy({ devVars });
});

after(async () => {
  await server?.remove();
});

/** Open file descriptors of every workerd process under `root` (wrangler runs two). */
function runtimeDescriptors(root: number): number {
  const parentOf = new Map<number, number>();
  const name = new Map<number, string>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      // "pid (comm) state ppid ...": comm may hold spaces, so split after ")".
      const comm = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      parentOf.set(Number(entry), ppid);
      name.set(Number(entry), comm);
    } catch {
      // exited while we looked
    }
  }
  const under = (pid: number): boolean => {
    for (let p: number | undefined = pid; p !== undefined && p > 1; p = parentOf.get(p))
      if (p === root) return true;
    return false;
  };
  let total = 0;
  for (const [pid, comm] of name) {
    if (comm !== "workerd" || !under(pid)) continue;
    try {
      total += readdirSync(`/proc/${pid}/fd`).length;
    } catch {
      // exited while we looked
    }
  }
  return total;
}

function open(room: string, name: string, localAddress: string): Promise<WebSocket> {
  const url = `${server.url.replace("http", "ws")}/ws/chat/${encodeURIComponent(room)}/?name=${name}`;
  return openSocket(url, name, localAddress);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("connections that die under `npm run dev`", { skip: !existsSync("/proc/self/fd") }, () => {
  it(`${SOCKETS} members whose connections die are let go: the runtime holds no more descriptors than before they came`, async () => {
    const room = `drops-${crypto.randomUUID().slice(0, 8)}`;
    const pid = server.process.pid!;
    // The room and the runtime's pools exist before the baseline is taken.
    (await open(room, "warm-up", ADDRESSES[0]!)).close();
    await sleep(1_000);
    const baseline = runtimeDescriptors(pid);

    const sockets: WebSocket[] = [];
    for (let i = 0; i < SOCKETS; i++)
      sockets.push(await open(room, `m${i}`, ADDRESSES[i % ADDRESSES.length]!));
    const opened = runtimeDescriptors(pid);
    assert.ok(
      opened >= baseline + SOCKETS,
      `${opened} descriptors with ${SOCKETS} open, ${baseline} before`,
    );

    // Someone keeps talking, so the room never goes idle and hibernates
    // (hibernating lets go of everything, which would hide a leak).
    const talker = await open(room, "talker", ADDRESSES[0]!);
    const received: string[] = [];
    talker.on("message", (data) => received.push(String(data)));
    let said = 0;
    const say = () => talker.send(JSON.stringify({ message: `${++said}` }));
    const talking = setInterval(say, 700);

    // No close frame: the TCP connection just ends, as when a network drops.
    for (const ws of sockets) ws.terminate();
    let now = runtimeDescriptors(pid);
    const deadline = Date.now() + RELEASE_MS;
    while (now > baseline + SLACK && Date.now() < deadline) {
      await sleep(250);
      now = runtimeDescriptors(pid);
    }
    clearInterval(talking);
    assert.ok(
      now <= baseline + SLACK,
      `${now} descriptors ${RELEASE_MS / 1000} s after ${SOCKETS} connections died; ${baseline} before they came`,
    );
    // The room still serves its live member, everything said arrived.
    say();
    const deadline2 = Date.now() + 5_000;
    while (received.length < said && Date.now() < deadline2) await sleep(50);
    assert.deepEqual(
      received.map((f) => (JSON.parse(f) as { message: string }).message),
      Array.from({ length: said }, (_, i) => `${i + 1}`),
    );
    talker.close();
  });
});
