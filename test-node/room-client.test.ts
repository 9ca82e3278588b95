// The typed room client (packages/client) from a Node script against a
// real `wrangler dev`, as another frontend or a bot would use it: join, chat,
// presence, resume with since across a server restart, a message sent while
// down delivered once, and a refusal that stops the retries.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { ChatMessage, ServerFrame } from "../src/protocol.ts";
import { RoomClient, type ConnectionState } from "../packages/client/src/index.ts";
import { startDevServer, type DevServer } from "../scripts/dev-server.ts";

function until(what: string, ok: () => boolean, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  return new Promise((done, fail) => {
    const tick = () => {
      if (ok()) done();
      else if (Date.now() > deadline) fail(new Error(`timed out waiting for ${what}`));
      else setTimeout(tick, 20);
    };
    tick();
  });
}

/** A client that records what it hears. */
function join(server: DevServer, room: string, name: string) {
  const client = new RoomClient({
    url: server.url,
    room,
    name,
    // Tests should not wait for the browser-friendly jitter.
    minReconnectDelayMs: () => 100,
  });
  const chats: ChatMessage[] = [];
  const frames: ServerFrame[] = [];
  const states: ConnectionState[] = [];
  client.on("chat", (m) => chats.push(m));
  client.on("frame", (f) => frames.push(f));
  client.on("status", (s) => states.push(s.state));
  return { client, chats, frames, states, texts: () => chats.map((m) => m.message) };
}

async function inject(server: DevServer, room: string, message: string): Promise<void> {
  const res = await fetch(`${server.url}/api/rooms/${encodeURIComponent(room)}/messages`, {
    method: "POST",
    headers: { Authorization: `Bearer ${server.token}`, "Content-Type": "application/json" },
    body: JSON.stringify({ message, user: "ci" }),
  });
  assert.equal(res.status, 201, await res.text());
}

describe("RoomClient from Node", () => {
  let server: DevServer;
  before(async () => {
    server = await startDevServer();
  });
  after(() => server?.stop());

  it("joins, chats both ways, sees presence, and each message is echoed to its sender once", async () => {
    const room = `client-${crypto.randomUUID()}`;
    const alice = join(server, room, "alice");
    await until("alice's welcome", () => alice.client.state === "live");
    const bob = join(server, room, "bob");
    await until("bob's welcome", () => bob.client.state === "live");
    assert.equal(alice.client.me?.name, "alice");

    const id = bob.client.send("hello from bob");
    alice.client.send("hi bob");
    await until(
      "both messages on both sides",
      () => alice.chats.length === 2 && bob.chats.length === 2,
    );
    assert.deepEqual(new Set(alice.texts()), new Set(["hello from bob", "hi bob"]));
    assert.deepEqual(alice.texts(), bob.texts()); // one order for everyone
    assert.equal(bob.chats.find((m) => m.message === "hello from bob")?.clientId, id);
    assert.equal(bob.client.pending, 0);
    // The next attempt resumes within the room's epoch (docs/protocol.md):
    // ids from before a reset must not be taken for new ones.
    const welcome = bob.frames.find((f) => f.type === "welcome");
    assert.ok(welcome, "bob was welcomed");
    const next = bob.client.joinUrl().searchParams;
    assert.equal(next.get("since"), String(Math.max(...bob.chats.map((m) => m.id))));
    assert.equal(next.get("epoch"), String(welcome.epoch));
    // Alice hears of bob through presence frames (whatever their shape; they
    // are coalesced, so they may come a moment after the chat).
    await until("alice hears of bob", () =>
      alice.frames.some(
        (f) => f.type !== "chat" && f.type !== "welcome" && JSON.stringify(f).includes('"bob"'),
      ),
    );
    alice.client.close();
    bob.client.close();
  });

  it("resumes with since across a server restart: what was missed once, a message sent while down once", async () => {
    const room = `resume-${crypto.randomUUID()}`;
    await inject(server, room, "before");
    const carol = join(server, room, "carol");
    await until("carol's history", () => carol.texts().includes("before"));

    const { port, persistTo, token } = server;
    await server.stop();
    await until("carol notices", () => carol.client.state === "reconnecting");
    carol.client.send("typed while down");
    server = await startDevServer({ port, persistTo, token });
    await inject(server, room, "after the restart");

    await until(
      "carol caught up",
      () =>
        carol.texts().includes("typed while down") && carol.texts().includes("after the restart"),
    );
    await new Promise((r) => setTimeout(r, 500)); // anything duplicated would arrive now
    const ids = carol.chats.map((m) => m.id);
    assert.deepEqual(
      ids,
      ids.toSorted((a, b) => a - b),
    );
    assert.equal(new Set(ids).size, ids.length);
    assert.deepEqual(
      carol
        .texts()
        .filter((t) => t === "before" || t === "typed while down")
        .toSorted(),
      ["before", "typed while down"],
    );
    assert.equal(carol.client.pending, 0);
    carol.client.close();
  });

  it("stops retrying when the room refuses, and says why", async () => {
    // A zero-width space in a name: 400 before the upgrade, so retrying cannot help.
    const dave = join(server, `room-${crypto.randomUUID()}`, "da\u200bve");
    let reason: string | null = null;
    dave.client.on("status", (s) => (reason = s.reason));
    await until("a refusal", () => dave.client.state === "refused");
    assert.match(String(reason), /invalid name.*U\+200B/);
    const attempts = dave.states.filter((s) => s === "reconnecting").length;
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(dave.states.filter((s) => s === "reconnecting").length, attempts);
    dave.client.close();
  });
});
