// Webhooks the way a user runs them: a copy of the project, WEBHOOK_URL,
// WEBHOOK_KEY, WEBHOOK_SECRET and WEBHOOK_MESSAGES in its .dev.vars, `npm run
// dev`, and a plain HTTP receiver on 127.0.0.1 that checks every delivery
// twice: with node:crypto, and with Pusher's own Node library (the `pusher`
// package's webhook().isValid(): X-Pusher-Key is the app key, the signature
// holds) plus the freshness rule of Pusher's Python library (time_ms within
// 300 s of the receiver's clock).
import assert from "node:assert/strict";
import { createHmac, timingSafeEqual } from "node:crypto";
import { createServer, type Server } from "node:http";
import { after, before, describe, it } from "node:test";
import Pusher from "pusher";
import { WebSocket } from "ws";
import { startProjectCopy, type ProjectCopy } from "../scripts/dev-server.ts";

const WEBHOOK_SECRET = `hook-${crypto.randomUUID()}`;
const WEBHOOK_KEY = "user-path-key";
const pusher = new Pusher({ appId: "1", key: WEBHOOK_KEY, secret: WEBHOOK_SECRET, cluster: "eu" });
/** Pusher's Python library: validate_webhook refuses a time_ms more than this far from now. */
const PUSHER_MAX_SKEW_MS = 300_000;

interface Received {
  at: number;
  path: string | undefined;
  status: number;
  verified: boolean;
  /** Pusher's Node library accepts it, and its time_ms would pass Pusher's Python library. */
  pusherValid: boolean;
  key: string | undefined;
  // oxlint-disable-next-line typescript/no-explicit-any -- events are checked field by field
  payload: { time_ms: number; events: Record<string, any>[] };
}

/** A webhook receiver; `answer` decides each response: a status, or "hang" (never answer). */
class Receiver {
  received: Received[] = [];
  answer: (room: string, attempt: number) => number | "hang" = () => 200;
  server: Server;
  constructor() {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const body = Buffer.concat(chunks);
        const expected = createHmac("sha256", WEBHOOK_SECRET).update(body).digest();
        const given = Buffer.from(String(req.headers["x-pusher-signature"] ?? ""), "hex");
        const payload = JSON.parse(body.toString()) as Received["payload"];
        const room = payload.events[0]?.channel ?? "";
        const attempt = this.received.filter((r) => r.payload.events[0]?.channel === room).length;
        const answer = this.answer(room, attempt + 1);
        this.received.push({
          at: Date.now(),
          path: req.url,
          status: answer === "hang" ? 0 : answer,
          verified: given.length === expected.length && timingSafeEqual(given, expected),
          pusherValid:
            pusher
              .webhook({
                headers: req.headers as Record<string, string>,
                rawBody: body.toString(),
              })
              .isValid() && Math.abs(Date.now() - payload.time_ms) <= PUSHER_MAX_SKEW_MS,
          key: req.headers["x-pusher-key"] as string | undefined,
          payload,
        });
        if (answer === "hang") return; // the room must give up on its own
        if (answer >= 300 && answer < 400) res.writeHead(answer, { Location: "/elsewhere" }).end();
        else res.writeHead(answer).end();
      });
    });
  }
  listen(): Promise<string> {
    return new Promise((done) =>
      this.server.listen(0, "127.0.0.1", () => {
        const { port } = this.server.address() as { port: number };
        done(`http://127.0.0.1:${port}/hooks/chat`);
      }),
    );
  }
  /** Events the receiver accepted (2xx) for `room`, in order. */
  events(room: string): Received["payload"]["events"] {
    return this.received
      .filter((r) => r.status >= 200 && r.status < 300)
      .flatMap((r) => r.payload.events)
      .filter((e) => e.channel === room);
  }
}

function open(url: string, room: string): Promise<{ ws: WebSocket; id: Promise<string> }> {
  const ws = new WebSocket(`${url.replace("http", "ws")}/ws/chat/${room}/?rich=1`);
  const id = new Promise<string>((done) =>
    ws.on("message", (data) => {
      const frame = JSON.parse(String(data));
      if (frame.type === "welcome") done(frame.you.id);
    }),
  );
  return new Promise((done, fail) => {
    ws.on("open", () => done({ ws, id }));
    ws.on("error", fail);
  });
}

async function until(what: string, check: () => boolean, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe("webhooks under `npm run dev` with WEBHOOK_* in .dev.vars", () => {
  const receiver = new Receiver();
  let server: ProjectCopy;
  let hookUrl: string;
  /** What `npm run dev` printed: the rooms' JSON log lines among it. */
  const serverLog: string[] = [];
  before(async () => {
    hookUrl = await receiver.listen();
    server = await startProjectCopy({
      devVars: { WEBHOOK_URL: hookUrl, WEBHOOK_KEY, WEBHOOK_SECRET, WEBHOOK_MESSAGES: "true" },
      log: (line) => serverLog.push(line),
    });
  });
  after(async () => {
    await server?.remove();
    receiver.server.closeAllConnections();
    receiver.server.close();
  });

  it("reports a member's arrival and, after the grace period, departure, signed", async () => {
    const room = `hooks-${crypto.randomUUID()}`;
    const { ws, id } = await open(server.url, room);
    const member = await id;
    await until("occupied and added", () => receiver.events(room).length >= 2);
    ws.close();
    await until("removed and vacated", () => receiver.events(room).length >= 4);
    assert.deepEqual(receiver.events(room), [
      { name: "channel_occupied", channel: room },
      { name: "member_added", channel: room, user_id: member },
      { name: "member_removed", channel: room, user_id: member },
      { name: "channel_vacated", channel: room },
    ]);
    for (const r of receiver.received) {
      assert.equal(r.verified, true, "X-Pusher-Signature is the HMAC of the body");
      assert.equal(r.pusherValid, true, "Pusher's library accepts it");
      assert.equal(r.key, WEBHOOK_KEY);
      assert.ok(Math.abs(r.at - r.payload.time_ms) < 10_000);
    }
  });

  it("delivers what was waiting after the server is killed and started again, then reports the lost member gone", async () => {
    const room = `hooks-${crypto.randomUUID()}`;
    receiver.answer = () => 503;
    const { ws, id } = await open(server.url, room);
    const member = await id;
    await until("a refused delivery", () =>
      receiver.received.some((r) => r.status === 503 && r.payload.events[0]?.channel === room),
    );
    ws.terminate();
    await server.stop("SIGKILL");
    receiver.answer = () => 200;
    server = await startProjectCopy({
      dir: server.dir,
      port: server.port,
      devVars: { WEBHOOK_URL: hookUrl, WEBHOOK_KEY, WEBHOOK_SECRET, WEBHOOK_MESSAGES: "true" },
      log: (line) => serverLog.push(line),
    });
    await until("the batch from before the crash", () => receiver.events(room).length >= 2, 30_000);
    // The socket died with the old server and never came back: after the
    // grace period the woken room reports the member gone.
    await until("the member's departure", () => receiver.events(room).length >= 4);
    assert.deepEqual(receiver.events(room), [
      { name: "channel_occupied", channel: room },
      { name: "member_added", channel: room, user_id: member },
      { name: "member_removed", channel: room, user_id: member },
      { name: "channel_vacated", channel: room },
    ]);
  });

  it("gives up on a receiver that does not answer within 5 s, treats a redirect as a failure, and sends the same events again", async () => {
    const room = `hooks-${crypto.randomUUID()}`;
    receiver.answer = (r, attempt) =>
      r !== room ? 200 : attempt === 1 ? "hang" : attempt === 2 ? 302 : 200;
    const { ws } = await open(server.url, room);
    try {
      const mine = () => receiver.received.filter((r) => r.payload.events[0]?.channel === room);
      await until("three attempts", () => mine().length >= 3, 30_000);
      const [hung, redirected, delivered] = mine();
      assert.equal(delivered!.status, 200);
      // 5 s without an answer, then the first retry's 1 s backoff.
      assert.ok(redirected!.at - hung!.at >= 5_500, `${redirected!.at - hung!.at} ms`);
      assert.ok(delivered!.at - redirected!.at >= 1_500, `${delivered!.at - redirected!.at} ms`);
      assert.deepEqual(
        [hung, redirected].map((r) => r!.payload.events),
        [delivered!.payload.events, delivered!.payload.events],
      );
      // Each attempt is signed with its own time: the late one passes Pusher's checks too.
      assert.ok(delivered!.payload.time_ms > hung!.payload.time_ms);
      assert.equal(delivered!.pusherValid, true);
      assert.ok(
        receiver.received.every((r) => r.path === "/hooks/chat"),
        "never followed the redirect",
      );
    } finally {
      ws.close();
    }
  });

  it("delivers message events once and in order across a receiver outage, each accepted by Pusher's library", async () => {
    const room = `hooks-${crypto.randomUUID()}`;
    const mine = () => receiver.received.filter((r) => r.payload.events[0]?.channel === room);
    // Down for the first four attempts (about 15 s of backoff), then up.
    receiver.answer = (r, attempt) => (r === room && attempt <= 4 ? 503 : 200);
    const { ws } = await open(server.url, room);
    try {
      const sent: string[] = [];
      for (let i = 1; i <= 15; i++) {
        const text = `socket ${i}`;
        sent.push(text);
        ws.send(JSON.stringify({ message: text }));
        if (i % 5 === 0) {
          const res = await fetch(`${server.url}/api/rooms/${room}/messages`, {
            method: "POST",
            headers: {
              Authorization: `Bearer ${server.token}`,
              "Content-Type": "application/json",
            },
            body: JSON.stringify({ message: `api ${i}`, user: "bot" }),
          });
          assert.equal(res.status, 201);
          sent.push(`api ${i}`);
        }
        await new Promise((r) => setTimeout(r, 100));
      }
      await until(
        "every message",
        () => receiver.events(room).filter((e) => e.name === "client_event").length >= sent.length,
        60_000,
      );
      await new Promise((r) => setTimeout(r, 1_000));
      const messages = receiver.events(room).filter((e) => e.name === "client_event");
      assert.deepEqual(
        messages.map((e) => e.id),
        Array.from({ length: sent.length }, (_, i) => i + 1),
        "every id once, ascending",
      );
      // In the room's order, as the history API lists it (a socket's message
      // and an injected one sent together may land either way round).
      const history = await fetch(`${server.url}/api/rooms/${room}/messages?since=0`, {
        headers: { Authorization: `Bearer ${server.token}` },
      });
      const { messages: stored } = (await history.json()) as {
        messages: { id: number; message: string }[];
      };
      assert.deepEqual(
        messages.map((e) => {
          const frame = JSON.parse(e.data as string) as { id: number; message: string };
          return [frame.id, frame.message];
        }),
        stored.map((m) => [m.id, m.message]),
      );
      assert.deepEqual(stored.map((m) => m.message).toSorted(), sent.toSorted());
      assert.ok(messages.every((e) => e.event === "message"));
      assert.ok(
        mine()
          .slice(0, 4)
          .every((r) => r.status === 503),
      );
      // The batches first tried while the receiver was down are accepted when they arrive.
      assert.ok(mine().every((r) => r.pusherValid && r.verified));
      assert.ok(mine().at(-1)!.at - mine()[0]!.at >= 14_000, "the outage lasted");
    } finally {
      ws.close();
    }
  });

  it("does not retry a delivery refused with 410, then tells the receiver the room as it is", async () => {
    const room = `hooks-${crypto.randomUUID()}`;
    const mine = () => receiver.received.filter((r) => r.payload.events[0]?.channel === room);
    receiver.answer = (r, attempt) => (r === room && attempt === 1 ? 410 : 200);
    const { ws, id } = await open(server.url, room);
    try {
      const member = await id;
      await until("a second delivery", () => mine().length >= 2);
      // Long enough for two retries had it been retried.
      await new Promise((r) => setTimeout(r, 4_000));
      assert.deepEqual(
        mine().map((r) => r.status),
        [410, 200],
      );
      assert.deepEqual(mine()[1]!.payload.events, [
        { name: "channel_occupied", channel: room },
        { name: "member_added", channel: room, user_id: member },
      ]);
      // Dropped and logged, not retried: what followed is a resync, made anew.
      assert.ok(
        serverLog.some(
          (l) =>
            l.includes(`"room":"${room}"`) &&
            l.includes('"webhook":"dropped"') &&
            l.includes('"failure":"HTTP 410"'),
        ),
        "the drop is logged",
      );
      assert.ok(
        serverLog.some((l) => l.includes(`"room":"${room}"`) && l.includes('"resync":1')),
        "the resync is logged",
      );
    } finally {
      ws.close();
    }
  });
});

describe("webhooks under `npm run dev` without WEBHOOK_KEY", () => {
  const receiver = new Receiver();
  let server: ProjectCopy;
  const serverLog: string[] = [];
  before(async () => {
    const hookUrl = await receiver.listen();
    server = await startProjectCopy({
      devVars: { WEBHOOK_URL: hookUrl, WEBHOOK_SECRET },
      log: (line) => serverLog.push(line),
    });
  });
  after(async () => {
    await server?.remove();
    receiver.server.closeAllConnections();
    receiver.server.close();
  });

  it("sends nothing and says why: Pusher's libraries would refuse an empty X-Pusher-Key", async () => {
    const room = `hooks-${crypto.randomUUID()}`;
    const { ws } = await open(server.url, room);
    try {
      ws.send(JSON.stringify({ message: "hello" }));
      await until("the configuration error", () =>
        serverLog.some((l) => l.includes("WEBHOOK_KEY is not")),
      );
      await new Promise((r) => setTimeout(r, 2_000));
      assert.deepEqual(receiver.received, []);
    } finally {
      ws.close();
    }
  });
});
