// What a stranger can make a room send, the way a user runs the server: a
// copy of the project, limits in its .dev.vars, `npm run dev`, real `ws`
// clients. The documented rules (docs/protocol.md, "Members that fall
// behind" and "History and resuming"): everything the room sends a member
// counts against one budget, errors and receipts are limited per socket, a
// room-wide total bounds what members hold unread, and HISTORY_ON_JOIN from
// .dev.vars decides what a joiner without `since` gets.
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { WebSocket } from "ws";
import { startProjectCopy, type ProjectCopy } from "../scripts/dev-server.ts";
import { openSocket } from "./open-socket.ts";

const BUDGET = 20_000;
const ROOM_BUDGET = 1_000_000;
const devVars = {
  BROADCAST_TOKEN: `broadcast-${crypto.randomUUID()}`,
  MAX_UNACKED_BYTES: String(BUDGET),
  MAX_ROOM_UNREAD_BYTES: String(ROOM_BUDGET),
  HISTORY_ON_JOIN: "0",
};
let server: ProjectCopy;

before(async () => {
  server = await startProjectCopy({ devVars });
});

after(async () => {
  await server?.remove();
});

interface Frame {
  type: string;
  id?: number;
  message?: string;
  clientId?: string;
  code?: string;
  history?: number;
}

interface Member {
  ws: WebSocket;
  frames: Frame[];
  closed: Promise<number>;
}

async function join(room: string, query: string): Promise<Member> {
  const ws = await openSocket(
    `${server.url.replace("http", "ws")}/ws/chat/${room}/?${query}`,
    room,
  );
  const frames: Frame[] = [];
  ws.on("message", (data) => {
    for (const line of String(data).split("\n")) frames.push(JSON.parse(line) as Frame);
  });
  const closed = new Promise<number>((done) => ws.once("close", (code) => done(code)));
  return { ws, frames, closed };
}

/** Stops reading the socket (ws pauses its TCP socket): what the room sends piles up on the way. */
function stopReading(ws: WebSocket): void {
  ws.pause();
}

function resumeReading(ws: WebSocket): void {
  ws.resume();
}

async function until(what: string, ok: () => boolean, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function post(room: string, messages: string[]): Promise<void> {
  const res = await fetch(`${server.url}/api/rooms/${room}/messages`, {
    method: "POST",
    headers: { Authorization: `Bearer ${server.token}`, "Content-Type": "application/json" },
    body: JSON.stringify({ messages: messages.map((message) => ({ message, user: "feed" })) }),
  });
  assert.equal(res.status, 201, await res.text());
}

/** Resident memory of the server's processes (npm, wrangler, workerd), in MB. */
function serverRssMb(): number {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
    } catch {
      // Gone meanwhile.
    }
  }
  let kb = 0;
  const queue = [server.process.pid!];
  while (queue.length > 0) {
    const pid = queue.pop()!;
    queue.push(...(children.get(pid) ?? []));
    try {
      const rss = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
      kb += Number(rss?.[1] ?? 0);
    } catch {
      // Gone meanwhile.
    }
  }
  return kb / 1024;
}

const closedWithin = (m: Member, ms: number) =>
  Promise.race([m.closed, new Promise<string>((r) => setTimeout(() => r("still open"), ms))]);

describe("a stranger's floods, under npm run dev", () => {
  it("closes a never-reading socket that floods receipt requests with 4008; another member keeps chatting", async () => {
    const room = `flood-${crypto.randomUUID().slice(0, 8)}`;
    const author = await join(room, "name=author");
    const other = await join(room, "name=other");
    author.ws.send(JSON.stringify({ message: "y".repeat(2000), clientId: "long-one" }));
    await until("the long message", () => other.frames.some((f) => f.clientId === "long-one"));
    const flooder = await join(room, "name=flooder");
    stopReading(flooder.ws);
    const rssBefore = serverRssMb();
    const ask = JSON.stringify({ message: "x", clientId: "long-one" });
    for (let i = 0; i < 40_000; i++) flooder.ws.send(ask);
    other.ws.send(JSON.stringify({ message: "still chatting" }));
    await until("the other member's own message", () =>
      other.frames.some((f) => f.message === "still chatting"),
    );
    resumeReading(flooder.ws);
    // Under wrangler dev a close frame can take seconds to come through.
    assert.equal(await closedWithin(flooder, 60_000), 4008);
    const receipts = flooder.frames.filter((f) => f.clientId === "long-one").length;
    const rssAfter = serverRssMb();
    console.log(
      `receipt flood: 40000 asked, ${receipts} answered; npm, wrangler and workerd RSS ${rssBefore.toFixed(1)} -> ${rssAfter.toFixed(1)} MB`,
    );
    // 8 x 20,000 characters for a member that never acks, at about 2,050 per receipt.
    assert.ok(receipts <= Math.ceil((8 * BUDGET) / 2000) + 1, `${receipts} receipts`);
    other.ws.send(JSON.stringify({ message: "after the flood" }));
    await until("chat after the flood", () =>
      other.frames.some((f) => f.message === "after the flood"),
    );
    assert.equal(other.ws.readyState, WebSocket.OPEN);
    for (const m of [author, other]) m.ws.close();
  });

  it("answers a never-reading socket's bad frames at most 100 times per window", async () => {
    const room = `bad-${crypto.randomUUID().slice(0, 8)}`;
    const flooder = await join(room, "name=flooder");
    const other = await join(room, "name=other");
    stopReading(flooder.ws);
    const started = Date.now();
    for (let i = 0; i < 40_000; i++) flooder.ws.send("not json");
    // Chat is not an answer: its echo shows the room has taken in the whole flood.
    flooder.ws.send(JSON.stringify({ message: "end of flood" }));
    await until("the flooder's message at the other member", () =>
      other.frames.some((f) => f.message === "end of flood"),
    );
    // Taking in 40,000 frames may span more than one 10 s window.
    const windows = Math.ceil((Date.now() - started) / 10_000) + 1;
    resumeReading(flooder.ws);
    await until("the flooder's own message", () =>
      flooder.frames.some((f) => f.message === "end of flood"),
    );
    const codes = flooder.frames.filter((f) => f.type === "error").map((f) => f.code);
    console.log(`bad frames: 40000 sent, ${codes.length} answered over at most ${windows} windows`);
    // Per window: up to 100 bad_json, then one rate_limited notice, then nothing.
    const runs = codes.join(" ").split("rate_limited");
    for (const run of runs) assert.ok(run.trim().split(" ").length <= 100, run);
    assert.ok(codes.length <= 101 * windows, `${codes.length} answers`);
    assert.equal(codes[100], "rate_limited");
    assert.equal(flooder.ws.readyState, WebSocket.OPEN);
    for (const m of [flooder, other]) m.ws.close();
  });

  it("closes never-reading sockets once the room holds MAX_ROOM_UNREAD_BYTES for them; a resume then gets everything", async () => {
    const room = `cap-${crypto.randomUUID().slice(0, 8)}`;
    const sent = Array.from({ length: 100 }, (_, i) => `${i + 1} ${"z".repeat(1890)}`);
    await post(room, sent);
    // Each is sent the whole history (about 200,000 characters): five fit
    // in the room's budget, the sixth does not.
    const strangers: Member[] = [];
    for (let i = 0; i < 6; i++) {
      const s = await join(room, `name=s${i}&since=0`);
      stopReading(s.ws);
      strangers.push(s);
    }
    await post(room, ["one more"]);
    for (const s of strangers) resumeReading(s.ws);
    const codes = await Promise.all(strangers.map((s) => closedWithin(s, 20_000)));
    assert.ok(codes.includes(4008), `codes: ${codes.join(", ")}`);
    const open = codes.filter((c) => c === "still open").length;
    assert.ok(open >= 4, `open: ${open}`);
    // A closed one resumes with since and misses nothing.
    const closed = strangers[codes.indexOf(4008)]!;
    const last = closed.frames.filter((f) => f.type === "chat").at(-1)?.id ?? 0;
    const back = await join(room, `since=${last}`);
    await until(
      "the rest",
      () => back.frames.filter((f) => f.type === "chat").length === 101 - last,
    );
    assert.deepEqual(
      [...closed.frames, ...back.frames].filter((f) => f.type === "chat").map((f) => f.id),
      Array.from({ length: 101 }, (_, i) => i + 1),
    );
    for (const s of [...strangers, back]) s.ws.close();
  });
});

describe("history from .dev.vars, under npm run dev", () => {
  it("sends a joiner nothing with HISTORY_ON_JOIN = 0, and a resume still gets what it missed", async () => {
    const room = `quiet-${crypto.randomUUID().slice(0, 8)}`;
    await post(room, ["a", "b", "c"]);
    const fresh = await join(room, "rich=1");
    const resumed = await join(room, "rich=1&since=1");
    await until("the resume", () => resumed.frames.filter((f) => f.type === "chat").length === 2);
    await until("the welcome", () => fresh.frames.length > 0);
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(
      fresh.frames.filter((f) => f.type === "chat"),
      [],
    );
    assert.equal(fresh.frames[0]?.type, "welcome");
    assert.equal(fresh.frames[0]?.history, 0);
    assert.deepEqual(
      resumed.frames.filter((f) => f.type === "chat").map((f) => f.message),
      ["b", "c"],
    );
    for (const m of [fresh, resumed]) m.ws.close();
  });

  it("replays HISTORY_ON_JOIN = 250 messages after a restart, not the 200 the room keeps in memory by default", async () => {
    const room = `deep-${crypto.randomUUID().slice(0, 8)}`;
    for (let b = 0; b < 3; b++)
      await post(
        room,
        Array.from({ length: 100 }, (_, i) => `m${b * 100 + i + 1}`),
      );
    // The user edits .dev.vars and restarts; the room starts from SQLite.
    await server.stop();
    server = await startProjectCopy({
      devVars: { ...devVars, HISTORY_ON_JOIN: "250" },
      dir: server.dir,
      port: server.port,
    });
    const joiner = await join(room, "name=late");
    await until("250 messages", () => joiner.frames.length >= 250);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(joiner.frames.length, 250);
    assert.equal(joiner.frames[0]?.message, "m51");
    assert.equal(joiner.frames.at(-1)?.message, "m300");
    joiner.ws.close();
  });
});
