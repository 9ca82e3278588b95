// The members API and the room client's member pages the way a user meets
// them: a copy of the project with its .dev.vars, `npm run dev`, over a
// hundred real `ws` members from a few loopback addresses (each under the
// default 100 sockets per address), a backend walking `next` with
// BROADCAST_TOKEN as curl would, and RoomClient from Node paging as a page does.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { WebSocket } from "ws";
import { RoomClient } from "../packages/client/src/index.ts";
import { startProjectCopy, type ProjectCopy } from "../scripts/dev-server.ts";
import { openSocket } from "./open-socket.ts";
import type { Member, WelcomeFrame } from "../src/protocol.ts";

const devVars = { BROADCAST_TOKEN: `broadcast-${crypto.randomUUID()}` };
/** Members come from these, 50 each at most: the default cap is 100 sockets per address. */
const ADDRESSES = ["127.0.0.2", "127.0.0.3", "127.0.0.4"];

interface Listed extends Member {
  connections: number;
}

interface Page {
  members: Listed[];
  count: number;
  next: string | null;
}

let server: ProjectCopy;

before(async () => {
  server = await startProjectCopy({ devVars });
});

after(async () => {
  await server?.remove();
});

/** A bare member, the way a script joins; `guest` keeps one member id across tabs. */
function open(
  room: string,
  name: string,
  localAddress: string,
  guest?: string,
): Promise<WebSocket> {
  const q = new URLSearchParams({ name, ...(guest ? { guest } : {}) });
  const url = `${server.url.replace("http", "ws")}/ws/chat/${encodeURIComponent(room)}/?${q}`;
  return openSocket(url, name, localAddress);
}

/** GET /api/rooms/:room/members, as `curl -H "Authorization: Bearer …"` would. */
async function members(room: string, query: string): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${server.url}/api/rooms/${encodeURIComponent(room)}/members?${query}`, {
    headers: { Authorization: `Bearer ${devVars.BROADCAST_TOKEN}` },
  });
  return { status: res.status, body: await res.json() };
}

async function until(check: () => boolean | Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const count = async (room: string) => ((await members(room, "limit=1")).body as Page).count;

describe("members API under `npm run dev`", () => {
  const room = `members-${crypto.randomUUID().slice(0, 8)}`;
  const sockets = new Map<string, WebSocket>();

  after(() => {
    for (const ws of sockets.values()) ws.close();
  });

  it("walking `next` lists 130 members from three addresses once each, with their tabs counted", async () => {
    for (let i = 0; i < 130; i++)
      sockets.set(`m${i}`, await open(room, `m${i}`, ADDRESSES[i % ADDRESSES.length]!));
    // One member with two tabs, from two addresses.
    const key = `two-tabs-${crypto.randomUUID()}`;
    sockets.set("tabs-1", await open(room, "tabs", ADDRESSES[0]!, key));
    sockets.set("tabs-2", await open(room, "tabs", ADDRESSES[1]!, key));

    // Between pages some leave and some arrive; everyone else must be listed once.
    const gone = ["m3", "m70", "m120"];
    const seen = new Map<string, Listed[]>();
    let cursor: string | null = null;
    let pages = 0;
    do {
      const { status, body } = await members(
        room,
        `limit=40${cursor === null ? "" : `&cursor=${cursor}`}`,
      );
      assert.equal(status, 200, JSON.stringify(body));
      const page = body as Page;
      assert.ok(page.members.length <= 40);
      for (const m of page.members) seen.set(m.name, [...(seen.get(m.name) ?? []), m]);
      cursor = page.next;
      if (pages === 1) {
        for (const name of gone) sockets.get(name)!.close();
        sockets.set("late", await open(room, "late", ADDRESSES[2]!));
        await until(async () => (await count(room)) === 131 - gone.length + 1, "the leaves");
      }
      pages++;
    } while (cursor !== null);

    assert.ok(pages >= 4, `${pages} pages of at most 40`);
    const stayed = [...Array.from({ length: 130 }, (_, i) => `m${i}`), "tabs"].filter(
      (name) => !gone.includes(name),
    );
    const missingOrTwice = stayed.filter((name) => seen.get(name)?.length !== 1);
    assert.deepEqual(missingOrTwice, [], "every member who stayed, exactly once");
    assert.ok(
      [...seen.values()].every((listed) => listed.length === 1),
      "nobody twice",
    );
    assert.equal(seen.get("tabs")![0]!.connections, 2);
    assert.equal(seen.get("m0")![0]!.connections, 1);
    assert.equal(seen.get("m0")![0]!.verified, false);
  });

  it("answers a bad cursor or limit with a 400 that names it", async () => {
    for (const [query, parameter] of [
      ["cursor=next", "cursor"],
      ["limit=0", "limit"],
      ["limit=1001", "limit"],
    ]) {
      const { status, body } = await members(room, query!);
      assert.equal(status, 400, query);
      assert.match((body as { error: string }).error, new RegExp(`^invalid ${parameter}: `));
    }
  });

  it("RoomClient from Node pages through everyone with requestMembers()", async () => {
    const total = await count(room);
    assert.ok(total > 100, `${total} members: more than one page`);
    const client = new RoomClient({ url: server.url, room, name: "reader" });
    // Nothing to send it through yet.
    assert.equal(client.requestMembers(), false);
    const names = new Map<string, number>();
    const welcomes: WelcomeFrame[] = [];
    let done = false;
    client.on("welcome", (w) => {
      welcomes.push(w);
      for (const m of w.members) names.set(m.name, (names.get(m.name) ?? 0) + 1);
      assert.equal(client.requestMembers(w.more), true);
    });
    client.on("members", (page) => {
      for (const m of page.members) names.set(m.name, (names.get(m.name) ?? 0) + 1);
      if (page.next === null) done = true;
      else client.requestMembers(page.next);
    });
    try {
      await until(() => done, "the last page");
      assert.equal(welcomes.length, 1);
      assert.equal(welcomes[0]!.members.length, 100);
      assert.equal(welcomes[0]!.count, total + 1);
      assert.equal(names.size, total + 1);
      assert.ok(names.has("reader"));
      assert.ok(
        [...names.values()].every((n) => n === 1),
        "each member once",
      );
    } finally {
      client.close();
    }
  });
});
