// The publish hook the way a user runs it: a copy of the project,
// PUBLISH_HOOK_URL, PUBLISH_HOOK_TIMEOUT_MS, PUBLISH_HOOK_FAILURE and the
// webhook secret in its .dev.vars, `npm run dev`, real `ws` clients, and a
// plain Node HTTP server as the site's hook, checking signatures with
// node:crypto. The same copy is started again with the other failure policy.
import assert from "node:assert/strict";
import { createHmac, timingSafeEqual } from "node:crypto";
import { createServer, type Server } from "node:http";
import { after, before, describe, it } from "node:test";
import { WebSocket } from "ws";
import { startProjectCopy, type ProjectCopy } from "../scripts/dev-server.ts";

const WEBHOOK_SECRET = `hook-${crypto.randomUUID()}`;
const TIMEOUT_MS = 1000;

type Frame = Record<string, unknown>;
interface HookCall {
  time_ms: number;
  room: string;
  member: { id: string; name: string; verified: boolean };
  message: string;
  clientId?: string;
}
/** A JSON answer, an empty 204, or "hang": never answer (the room must give up). */
type Answer = { status?: number; body?: unknown } | "hang";

/** The site's hook: answers per room, records every call and whether it was signed. */
class Site {
  calls: { call: HookCall; signed: boolean }[] = [];
  answer: (call: HookCall) => Answer = () => ({ status: 204 });
  server: Server | null = null;
  port = 0;
  start(): Promise<void> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const body = Buffer.concat(chunks);
        const expected = createHmac("sha256", WEBHOOK_SECRET).update(body).digest();
        const given = Buffer.from(String(req.headers["x-pusher-signature"] ?? ""), "hex");
        const call = JSON.parse(body.toString()) as HookCall;
        this.calls.push({
          call,
          signed: given.length === expected.length && timingSafeEqual(given, expected),
        });
        const answer = this.answer(call);
        if (answer === "hang") return;
        if (answer.body === undefined) return void res.writeHead(answer.status ?? 204).end();
        res
          .writeHead(answer.status ?? 200, { "Content-Type": "application/json" })
          .end(JSON.stringify(answer.body));
      });
    });
    return new Promise((done) =>
      this.server!.listen(this.port, "127.0.0.1", () => {
        this.port = (this.server!.address() as { port: number }).port;
        done();
      }),
    );
  }
  /** Stops listening: the hook's address now refuses connections. */
  stop(): Promise<void> {
    this.server?.closeAllConnections();
    return new Promise((done) => this.server!.close(() => done()));
  }
  get url(): string {
    return `http://127.0.0.1:${this.port}/hooks/publish`;
  }
}

interface Member {
  ws: WebSocket;
  frames: Frame[];
}

function open(base: string, room: string, name: string): Promise<Member> {
  const ws = new WebSocket(`${base.replace("http", "ws")}/ws/chat/${room}/?rich=1&name=${name}`);
  const frames: Frame[] = [];
  ws.on("message", (d) => frames.push(JSON.parse(String(d)) as Frame));
  return new Promise((done, fail) => {
    ws.on("open", () => done({ ws, frames }));
    ws.on("error", fail);
  });
}

const chats = (m: Member) => m.frames.filter((f) => f.type === "chat");
const errors = (m: Member) => m.frames.filter((f) => f.type === "error");

async function until(what: string, check: () => boolean, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function history(server: ProjectCopy, room: string): Promise<Frame[]> {
  const res = await fetch(`${server.url}/api/rooms/${room}/messages`, {
    headers: { Authorization: `Bearer ${server.token}` },
  });
  return ((await res.json()) as { messages: Frame[] }).messages;
}

describe("the publish hook under `npm run dev` with PUBLISH_HOOK_* in .dev.vars", () => {
  const site = new Site();
  const logs: string[] = [];
  let server: ProjectCopy;
  const devVars = (failure: "closed" | "open") => ({
    BROADCAST_TOKEN: `broadcast-${crypto.randomUUID()}`,
    WEBHOOK_SECRET,
    PUBLISH_HOOK_URL: site.url,
    PUBLISH_HOOK_TIMEOUT_MS: String(TIMEOUT_MS),
    PUBLISH_HOOK_FAILURE: failure,
  });
  let members: Member[] = [];
  async function enter(...names: string[]): Promise<{ room: string; members: Member[] }> {
    const room = `hook-${crypto.randomUUID().slice(0, 8)}`;
    const opened = [];
    for (const name of names) opened.push(await open(server.url, room, name));
    for (const m of opened)
      await until("welcome", () => m.frames.some((f) => f.type === "welcome"));
    members.push(...opened);
    return { room, members: opened };
  }

  before(async () => {
    await site.start();
    server = await startProjectCopy({ devVars: devVars("closed"), log: (l) => logs.push(l) });
  });
  after(async () => {
    for (const m of members) m.ws.terminate();
    await server?.remove();
    await site.stop();
  });

  it("denies: the sender gets the site's reason, nobody gets the message, nothing is stored", async () => {
    const {
      room,
      members: [ada, bob],
    } = await enter("ada", "bob");
    site.answer = (c) =>
      c.room === room ? { body: { action: "deny", reason: "No shouting here." } } : { status: 204 };
    ada!.ws.send(JSON.stringify({ message: "HELLO", clientId: "c1" }));
    await until("the refusal", () => errors(ada!).length > 0);
    assert.deepEqual(errors(ada!), [
      { type: "error", code: "refused", message: "No shouting here.", clientId: "c1" },
    ]);
    const call = site.calls.find((c) => c.call.room === room)!;
    assert.equal(call.signed, true, "X-Pusher-Signature is the HMAC of the body");
    assert.deepEqual(
      { ...call.call, time_ms: 0, member: { ...call.call.member, id: "" } },
      {
        time_ms: 0,
        room,
        member: { id: "", name: "ada", verified: false },
        message: "HELLO",
        clientId: "c1",
      },
    );
    await pause(300);
    assert.deepEqual([...chats(ada!), ...chats(bob!)], []);
    assert.deepEqual(await history(server, room), []);
  });

  it("rewrites: everyone gets the site's text and name", async () => {
    const {
      room,
      members: [ada, bob],
    } = await enter("ada", "bob");
    site.answer = (c) =>
      c.room === room
        ? { body: { action: "replace", message: c.message.toLowerCase(), user: "Ada (site)" } }
        : { status: 204 };
    ada!.ws.send(JSON.stringify({ message: "HELLO" }));
    await until("the message at both", () => chats(ada!).length > 0 && chats(bob!).length > 0);
    for (const m of [ada!, bob!])
      assert.deepEqual([chats(m)[0]!.message, chats(m)[0]!.user], ["hello", "Ada (site)"]);
    assert.equal((await history(server, room))[0]!.message, "hello");
  });

  it("fails closed on a hook that does not answer within PUBLISH_HOOK_TIMEOUT_MS, serving the others meanwhile", async () => {
    const {
      room,
      members: [ada, bob],
    } = await enter("ada", "bob");
    site.answer = (c) => (c.room === room && c.member.name === "ada" ? "hang" : { status: 204 });
    const sent = Date.now();
    ada!.ws.send(JSON.stringify({ message: "anyone?", clientId: "c2" }));
    await until("ada's call", () => site.calls.some((c) => c.call.room === room));
    // While ada's call hangs, bob's message goes through the hook and out.
    bob!.ws.send(JSON.stringify({ message: "meanwhile" }));
    await until("bob's message at ada", () => chats(ada!).length === 1);
    assert.deepEqual(errors(ada!), [], "bob's message came before ada's call timed out");
    await until("the refusal", () => errors(ada!).length > 0);
    assert.ok(Date.now() - sent >= TIMEOUT_MS - 50, `${Date.now() - sent} ms`);
    assert.equal(errors(ada!)[0]!.code, "unavailable");
    assert.equal(errors(ada!)[0]!.clientId, "c2");
    assert.deepEqual(
      [...chats(ada!), ...chats(bob!)].map((c) => c.message),
      ["meanwhile", "meanwhile"],
    );
  });

  it("fails closed on a hook that is down (connection refused), and says so in the logs", async () => {
    const {
      room,
      members: [ada, bob],
    } = await enter("ada", "bob");
    await site.stop();
    try {
      ada!.ws.send(JSON.stringify({ message: "anyone?" }));
      await until("the refusal", () => errors(ada!).length > 0);
      assert.equal(errors(ada!)[0]!.code, "unavailable");
      await pause(300);
      assert.deepEqual([...chats(ada!), ...chats(bob!)], []);
      // One summary line per room per 10 s, not a line per message.
      await until("the failing hook's log line", () =>
        logs.some((l) => l.includes('"publish_hook_failing"') && l.includes(room)),
      );
    } finally {
      await site.start();
    }
  });

  it("with PUBLISH_HOOK_FAILURE=open, stores messages unchecked when the hook times out or is down", async () => {
    await server.stop();
    server = await startProjectCopy({ dir: server.dir, devVars: devVars("open") });
    const {
      room,
      members: [ada, bob],
    } = await enter("ada", "bob");
    site.answer = (c) => (c.room === room ? "hang" : { status: 204 });
    const sent = Date.now();
    ada!.ws.send(JSON.stringify({ message: "timed out" }));
    await until("the message", () => chats(bob!).length === 1);
    // Stored only once the hook was given up on, not without asking it.
    assert.ok(Date.now() - sent >= TIMEOUT_MS - 50, `${Date.now() - sent} ms`);
    assert.ok(site.calls.some((c) => c.call.room === room && c.call.message === "timed out"));
    await site.stop();
    try {
      ada!.ws.send(JSON.stringify({ message: "hook down" }));
      await until("the second message", () => chats(bob!).length === 2);
    } finally {
      await site.start();
    }
    assert.deepEqual(
      chats(bob!).map((c) => [c.message, c.user]),
      [
        ["timed out", "ada"],
        ["hook down", "ada"],
      ],
    );
    assert.deepEqual(errors(ada!), []);
  });
});
