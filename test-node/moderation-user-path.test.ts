// Bans, guest ids and token lifetimes the way a user runs the server: a copy
// of the project, BROADCAST_TOKEN and JOIN_SECRET in its .dev.vars, `npm run
// dev`, real `ws` clients and fetch. Guest ids are derived from the
// BROADCAST_TOKEN in .dev.vars, and retention runs on the ROOM_TTL set there,
// so the workerd tests (which pass bindings directly) would not notice if
// either stopped reaching the room.
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { WebSocket } from "ws";
import { startProjectCopy, type ProjectCopy } from "../scripts/dev-server.ts";

const devVars = {
  BROADCAST_TOKEN: `broadcast-${crypto.randomUUID()}`,
  JOIN_SECRET: `join-${crypto.randomUUID()}`,
  // Seconds: a quiet room is deleted 3 s after its last message (default 30 days).
  ROOM_TTL: "3",
};
let server: ProjectCopy;

before(async () => {
  server = await startProjectCopy({ devVars });
});

after(async () => {
  await server?.remove();
});

type Frame = Record<string, unknown> & { type?: string };
interface Joined {
  ws: WebSocket;
  frames: Frame[];
}

const part = (o: object) => Buffer.from(JSON.stringify(o)).toString("base64url");

/** A join token as a backend mints it with PyJWT or jsonwebtoken: HS256 over sub, room, exp. */
function backendToken(sub: string, room: string, expiresInSeconds: number): string {
  const exp = Math.floor(Date.now() / 1000) + expiresInSeconds;
  const body = `${part({ alg: "HS256", typ: "JWT" })}.${part({ sub, room, exp })}`;
  return `${body}.${createHmac("sha256", devVars.JOIN_SECRET).update(body).digest("base64url")}`;
}

function open(room: string, query: Record<string, string>): Promise<Joined> {
  const params = new URLSearchParams({ rich: "1", ...query });
  const ws = new WebSocket(`${server.url.replace("http", "ws")}/ws/chat/${room}/?${params}`);
  const frames: Frame[] = [];
  ws.on("message", (d) => frames.push(JSON.parse(String(d)) as Frame));
  return new Promise((done, fail) => {
    ws.on("open", () => done({ ws, frames }));
    ws.on("unexpected-response", (_req, res) => {
      let body = "";
      res.on("data", (d) => (body += d));
      res.on("end", () =>
        fail(
          Object.assign(new Error(`HTTP ${res.statusCode}: ${body}`), {
            status: res.statusCode,
            error: (JSON.parse(body) as { error: string }).error,
          }),
        ),
      );
    });
    ws.on("error", fail);
  });
}

async function refusal(joining: Promise<Joined>): Promise<{ status: number; error: string }> {
  try {
    (await joining).ws.close();
  } catch (err) {
    return err as { status: number; error: string };
  }
  throw new Error("the socket was accepted");
}

async function until<T>(find: () => T | undefined, what: string, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const found = find();
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function myId(joined: Joined): Promise<string> {
  const welcome = await until(() => joined.frames.find((f) => f.type === "welcome"), "welcome");
  return (welcome.you as { id: string }).id;
}

function api(path: string, init: RequestInit = {}): Promise<Response> {
  return fetch(`${server.url}/api${path}`, {
    ...init,
    headers: { Authorization: `Bearer ${devVars.BROADCAST_TOKEN}`, ...init.headers },
  });
}

const newRoom = (prefix: string) => `${prefix}-${crypto.randomUUID().slice(0, 8)}`;

describe("moderation under npm run dev", () => {
  it("keeps a banned guest's key out of the room: the same key is refused at join", async () => {
    const room = newRoom("ban");
    const key = `key-${crypto.randomUUID()}`;
    const pest = await open(room, { name: "pest", guest: key });
    const id = await myId(pest);
    const closed = new Promise<number>((r) => pest.ws.once("close", (code) => r(code)));
    const res = await api(`/rooms/${room}/members/${id}?ban=600`, { method: "DELETE" });
    assert.equal(res.status, 200, await res.clone().text());
    assert.equal(await closed, 4003);

    const again = await refusal(open(room, { name: "new-name", guest: key }));
    assert.equal(again.status, 403);
    assert.match(again.error, /^banned from this room until /);
  });

  it("answers 422 to a ban on a guest without a key, and can still remove it", async () => {
    const room = newRoom("keyless");
    const drifter = await open(room, { name: "drifter" });
    const id = await myId(drifter);
    const banned = await api(`/rooms/${room}/members/${id}?ban=600`, { method: "DELETE" });
    assert.equal(banned.status, 422);
    assert.match(((await banned.json()) as { error: string }).error, /can be removed/);
    const closed = new Promise<number>((r) => drifter.ws.once("close", (code) => r(code)));
    assert.equal((await api(`/rooms/${room}/members/${id}`, { method: "DELETE" })).status, 200);
    assert.equal(await closed, 4001);
  });

  it("keeps a ban when the quiet room's messages are deleted after ROOM_TTL", async () => {
    const room = newRoom("ttl-ban");
    const post = await api(`/rooms/${room}/messages`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ message: "soon gone" }),
    });
    assert.equal(post.status, 201);
    const ban = await api(`/rooms/${room}/members/spammer?ban=${365 * 86400}`, {
      method: "DELETE",
    });
    assert.equal(ban.status, 200);

    const deadline = Date.now() + 20_000;
    let history = { lastId: 1 } as { lastId: number };
    while (history.lastId !== 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 500));
      history = (await (await api(`/rooms/${room}/messages`)).json()) as { lastId: number };
    }
    assert.equal(history.lastId, 0, "the messages are deleted after ROOM_TTL");
    const refused = await refusal(open(room, { token: backendToken("spammer", room, 600) }));
    assert.equal(refused.status, 403, "the year-long ban is still in force");
  });
});

describe("guest ids and tokens under npm run dev", () => {
  it("gives one guest key unrelated ids in two rooms", async () => {
    const key = `key-${crypto.randomUUID()}`;
    const a = await open(newRoom("a"), { guest: key });
    const b = await open(newRoom("b"), { guest: key });
    try {
      const [idA, idB] = [await myId(a), await myId(b)];
      assert.match(idA, /^[0-9a-f]{16}$/);
      assert.notEqual(idA, idB);
    } finally {
      a.ws.close();
      b.ws.close();
    }
  });

  it("refuses a token whose exp is two days ahead, and admits one an hour ahead", async () => {
    const room = newRoom("exp");
    const far = await refusal(open(room, { token: backendToken("u-1", room, 2 * 86400) }));
    assert.equal(far.status, 401);
    assert.match(far.error, /lives too long: .* more than the 86400 s \(24 h\) allowed/);
    const near = await open(room, { token: backendToken("u-1", room, 3600) });
    assert.equal(await myId(near), "u-1");
    near.ws.close();
  });
});
