// Send and connection limits, and retention, the way a user runs the server:
// a copy of the project, the settings in its .dev.vars, `npm run dev`, real
// `ws` clients from one address. Reconnecting again and again must not reset
// the limit; a room left alone for ROOM_TTL is deleted by its alarm.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { WebSocket } from "ws";
import { startProjectCopy, type ProjectCopy } from "../scripts/dev-server.ts";

const devVars = {
  BROADCAST_TOKEN: `broadcast-${crypto.randomUUID()}`,
  // Not the defaults, so the test also proves .dev.vars reaches the room.
  RATE_LIMIT_MESSAGES: "5",
  RATE_LIMIT_WINDOW_SECONDS: "60",
  MAX_CONNECTIONS_PER_ADDRESS: "3",
  // Seconds: rooms here are deleted 3 s after they go quiet (the default is 30 days).
  ROOM_TTL: "3",
};
let server: ProjectCopy;

before(async () => {
  server = await startProjectCopy({ devVars });
});

after(async () => {
  await server?.remove();
});

type Frame = Record<string, unknown>;

function open(room: string, name: string): Promise<{ ws: WebSocket; frames: Frame[] }> {
  const url = `${server.url.replace("http", "ws")}/ws/chat/${room}/?name=${name}`;
  const ws = new WebSocket(url);
  const frames: Frame[] = [];
  ws.on("message", (d) => frames.push(JSON.parse(String(d)) as Frame));
  return new Promise((done, fail) => {
    ws.on("open", () => done({ ws, frames }));
    ws.on("unexpected-response", (_req, res) =>
      fail(Object.assign(new Error(`HTTP ${res.statusCode}`), { status: res.statusCode })),
    );
    ws.on("error", fail);
  });
}

async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("limits under npm run dev", () => {
  it("a reconnect flood from one address under one name gets RATE_LIMIT_MESSAGES in all", async () => {
    const room = `flood-${crypto.randomUUID().slice(0, 8)}`;
    let accepted = 0;
    let refused = 0;
    for (let round = 0; round < 6; round++) {
      const { ws, frames } = await open(room, "mallory");
      for (let i = 0; i < 5; i++)
        ws.send(JSON.stringify({ message: `r${round} m${i}`, clientId: `r${round}-m${i}` }));
      const mine = () =>
        frames.filter(
          (f) =>
            (f.type === "chat" || f.type === "error") &&
            String(f.clientId).startsWith(`r${round}-`),
        );
      await until(() => mine().length === 5, `answers in round ${round}`);
      accepted += mine().filter((f) => f.type === "chat").length;
      refused += mine().filter((f) => f.code === "rate_limited").length;
      ws.close();
      await new Promise((r) => ws.once("close", r));
    }
    assert.equal(accepted, 5, "the limit counts the sender across its sockets");
    assert.equal(refused, 25);
  });

  it("takes MAX_CONNECTIONS_PER_ADDRESS sockets from one address and answers the next with 429", async () => {
    const room = `cap-${crypto.randomUUID().slice(0, 8)}`;
    const sockets = [await open(room, "a"), await open(room, "b"), await open(room, "c")];
    try {
      await assert.rejects(open(room, "d"), (err: { status?: number }) => err.status === 429);
      const res = await fetch(`${server.url}/ws/chat/${room}/`);
      assert.equal(res.status, 426, "a plain GET is still answered: only sockets are counted");
    } finally {
      for (const s of sockets) s.ws.close();
    }
  });
});

describe("retention under npm run dev", () => {
  it("deletes a room's messages ROOM_TTL after its last member left, from the room's alarm", async () => {
    const room = `ttl-${crypto.randomUUID().slice(0, 8)}`;
    const history = async () => {
      const res = await fetch(`${server.url}/api/rooms/${room}/messages`, {
        headers: { Authorization: `Bearer ${devVars.BROADCAST_TOKEN}` },
      });
      return (await res.json()) as { messages: unknown[]; lastId: number; epoch: number };
    };
    const { ws, frames } = await open(room, "visitor");
    ws.send(JSON.stringify({ message: "soon gone" }));
    await until(() => frames.some((f) => f.type === "chat"), "the echo");
    ws.close();
    await new Promise((r) => ws.once("close", r));
    const young = await history();
    assert.equal(young.lastId, 1, "kept while the room is young");

    // Reading the history is not activity: the room still goes.
    const deadline = Date.now() + 20_000;
    let now = await history();
    while (now.lastId !== 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 500));
      now = await history();
    }
    const { epoch, ...rest } = now;
    assert.deepEqual(rest, { messages: [], lastId: 0, oldestId: null }, "deleted after ROOM_TTL");
    // docs/http-api.md: ids restart, and the epoch says so.
    assert.notEqual(epoch, young.epoch, "a new epoch");
    const asked = await fetch(
      `${server.url}/api/rooms/${room}/messages?since=1&epoch=${young.epoch}`,
      { headers: { Authorization: `Bearer ${devVars.BROADCAST_TOKEN}` } },
    );
    assert.equal(((await asked.json()) as { reset?: boolean }).reset, true);
  });
});
