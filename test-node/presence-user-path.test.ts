// Presence, member pages, activity logs and a restart of a busy room, the way
// the README tells a user to run the project: a copy of it, `npm run dev`,
// real `ws` clients joining as the room page does (rich=1).
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { WebSocket } from "ws";
import { startProjectCopy, type ProjectCopy } from "../scripts/dev-server.ts";

type Frame = Record<string, unknown> & { type?: string };
type Member = { id: string; name: string };

/** A rich member that keeps its list the way the protocol docs say to apply frames. */
class RichMember {
  readonly name: string;
  ws!: WebSocket;
  frames: Frame[] = [];
  known = new Map<string, string>();
  count = 0;
  lastId = 0;

  constructor(name: string) {
    this.name = name;
  }

  open(url: string, room: string, since?: number): Promise<void> {
    const q = new URLSearchParams({ name: this.name, rich: "1" });
    if (since !== undefined) q.set("since", String(since));
    this.ws = new WebSocket(
      `${url.replace("http", "ws")}/ws/chat/${encodeURIComponent(room)}/?${q}`,
    );
    this.ws.on("message", (data) => {
      const f = JSON.parse(String(data)) as Frame;
      this.frames.push(f);
      if (f.type === "welcome") this.known.clear();
      if (f.type === "presence") for (const m of f.left as Member[]) this.known.delete(m.id);
      const list = (f.type === "presence" ? f.joined : f.members) as Member[] | undefined;
      if (list) for (const m of list) this.known.set(m.id, m.name);
      if (typeof f.count === "number") this.count = f.count;
      if (f.type === "chat") this.lastId = f.id as number;
    });
    return new Promise((done, fail) => {
      this.ws.once("open", () => done());
      this.ws.once("error", fail);
    });
  }

  names(): string[] {
    return [...this.known.values()].toSorted();
  }

  chats(): Frame[] {
    return this.frames.filter((f) => f.type === "chat");
  }
}

async function until(ok: () => boolean, what: string, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe("presence under `npm run dev`", () => {
  let server: ProjectCopy;
  const log: string[] = [];

  // Every test client comes from 127.0.0.1: room for 150 sockets from one address.
  const devVars = { MAX_CONNECTIONS_PER_ADDRESS: "1000" };

  before(async () => {
    server = await startProjectCopy({ devVars, log: (line) => log.push(line) });
  });

  after(async () => {
    await server?.remove();
  });

  it("three people see each other in a moment; 150 joining at once cost each a few frames, with names for the first 100", async () => {
    const room = `presence-${crypto.randomUUID()}`;
    const three = ["ann", "ben", "cy"].map((n) => new RichMember(n));
    for (const m of three) await m.open(server.url, room);
    for (const m of three) await until(() => m.names().join() === "ann,ben,cy", `${m.name}'s list`);

    const crowd = Array.from({ length: 150 }, (_, i) => new RichMember(`p${i}`));
    await Promise.all(crowd.map((m) => m.open(server.url, room)));
    for (const m of [...three, ...crowd]) await until(() => m.count === 153, `${m.name}: 153`);
    // Diffs, not a frame per join: far fewer frames than the 150 joins.
    for (const m of three) {
      const presence = m.frames.filter((f) => f.type === "presence").length;
      assert.ok(presence < 30, `${m.name} got ${presence} presence frames`);
    }
    // Everyone is told the first 100 by name and the rest as a count.
    for (const m of [...three, ...crowd]) assert.equal(m.names().length, 100, m.name);
    // A late joiner is welcomed with the first 100 and pages through the rest.
    const late = new RichMember("late");
    await late.open(server.url, room);
    await until(() => late.frames.some((f) => f.type === "welcome"), "welcome");
    const welcome = late.frames.find((f) => f.type === "welcome")!;
    assert.equal((welcome.members as Member[]).length, 100);
    assert.equal(welcome.count, 154);
    let cursor = welcome.more as string | null;
    while (cursor !== null) {
      const pages = late.frames.filter((f) => f.type === "members").length;
      late.ws.send(JSON.stringify({ type: "members", cursor }));
      await until(() => late.frames.filter((f) => f.type === "members").length > pages, "a page");
      cursor = late.frames.findLast((f) => f.type === "members")!.next as string | null;
    }
    assert.equal(late.names().length, 154);
    // Having asked for the list, the late member hears of a leave past the first 100; Ann never asked.
    crowd.at(-1)!.ws.close();
    await until(() => late.names().length === 153 && late.count === 153, "late: the leave");
    await until(() => three[0]!.count === 153, "ann: the count");
    assert.equal(three[0]!.names().length, 100);

    for (const m of [...three, ...crowd.slice(0, -1), late]) m.ws.close();
    // Operators get one summary line per second, not a line per socket.
    await until(
      () => log.some((l) => l.includes('"event":"activity"') && l.includes('"members":0')),
      "an activity line after everyone left",
    );
    const lines = log.filter((l) => l.includes('"event":"activity"'));
    assert.ok(lines.length < 20, `${lines.length} activity lines for 308 connects and leaves`);
    assert.equal(log.filter((l) => l.includes('"event":"connect"')).length, 0);
  });

  it("after a restart every member resumes with since and misses nothing", async () => {
    const room = `restart-${crypto.randomUUID()}`;
    const post = (message: string) =>
      fetch(`${server.url}/api/rooms/${encodeURIComponent(room)}/messages`, {
        method: "POST",
        headers: { Authorization: `Bearer ${server.token}`, "Content-Type": "application/json" },
        body: JSON.stringify({ message }),
      });
    const members = Array.from({ length: 40 }, (_, i) => new RichMember(`r${i}`));
    await Promise.all(members.map((m) => m.open(server.url, room)));
    for (let i = 1; i <= 5; i++) assert.equal((await post(`before ${i}`)).status, 201);
    for (const m of members) await until(() => m.lastId === 5, `${m.name} at 5`);

    const closed = members.map((m) => new Promise((r) => m.ws.once("close", r)));
    await server.stop();
    await Promise.all(closed);
    server = await startProjectCopy({
      dir: server.dir,
      port: server.port,
      devVars,
      log: (line) => log.push(line),
    });
    for (let i = 1; i <= 5; i++) assert.equal((await post(`after ${i}`)).status, 201);
    await Promise.all(members.map((m) => m.open(server.url, room, m.lastId)));
    for (const m of members) await until(() => m.lastId === 10, `${m.name} at 10`);
    for (const m of members) {
      assert.deepEqual(
        m.chats().map((f) => f.id),
        [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
        `${m.name}: every message once, in order`,
      );
      await until(() => m.count === 40, `${m.name}: everyone back`);
      m.ws.close();
    }
  });
});
