/**
 * Presence in rooms of any size: welcome with a count and the first members,
 * coalesced diffs instead of a frame per join or leave, and the member list
 * in pages for those who want all of it.
 */
import { sign } from "hono/jwt";
import { describe, expect, it } from "vitest";
import {
  Client,
  closeAll,
  connect,
  presentCount,
  presentNames,
  request,
  uniqueRoom,
  wsPath,
  type Frame,
} from "./helpers";
import { TEST_JOIN_SECRET } from "./test-env";

function joinToken(claims: Record<string, unknown>): Promise<string> {
  return sign({ exp: Math.floor(Date.now() / 1000) + 600, ...claims }, TEST_JOIN_SECRET, "HS256");
}

/** Ids a presence frame names, joined or left. */
function namedIn(f: Frame): string[] {
  return [...f.joined, ...f.left].map((m: Frame) => m.id as string);
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

describe("presence (rich clients)", () => {
  it("welcomes a rich client with the member list and count, then reports joins and leaves as diffs", async () => {
    const room = uniqueRoom();
    const alice = await connect(room, "name=alice&rich=1");
    let bob: Client | undefined;
    try {
      await alice.untilType("welcome");
      const [welcome] = alice.ofType("welcome");
      expect(welcome).toMatchObject({ room, you: { name: "alice" }, lastId: 0, count: 1 });
      expect(welcome!.members.map((m: { name: string }) => m.name)).toEqual(["alice"]);
      expect(welcome!.more).toBeNull();

      bob = await connect(room, "name=bob&rich=1");
      await bob.untilType("welcome");
      expect(bob.ofType("welcome")[0]).toMatchObject({ count: 2, more: null });
      expect(presentNames(bob)).toEqual(["alice", "bob"]);
      await alice.until((c) => presentNames(c).includes("bob"), "bob in alice's list");
      const joined = alice.ofType("presence").at(-1)!;
      expect(joined.count).toBe(2);
      expect(joined.joined).toContainEqual(bob.ofType("welcome")[0]!.you);

      const bobId = bob.ofType("welcome")[0]!.you.id as string;
      bob.close();
      await alice.until((c) => presentNames(c).length === 1, "bob gone from alice's list");
      expect(alice.ofType("presence").at(-1)).toEqual({
        type: "presence",
        joined: [],
        left: [{ id: bobId, verified: false }],
        count: 1,
      });
      expect(presentNames(alice)).toEqual(["alice"]);
    } finally {
      closeAll([alice, ...(bob ? [bob] : [])]);
    }
  });

  it("shows three people each other at once, without a frame per join for bare clients", async () => {
    const room = uniqueRoom();
    const [a, b, c] = [
      await connect(room, "name=ann&rich=1"),
      await connect(room, "name=ben&rich=1"),
      await connect(room, "name=cy&rich=1"),
    ];
    const bare = await connect(room, "name=plain");
    try {
      for (const x of [a!, b!, c!])
        await x.until(
          (k) => presentNames(k).join() === "ann,ben,cy,plain",
          "all four in the list",
          1000,
        );
      await bare.quiet();
      expect(bare.frames).toEqual([]);
    } finally {
      closeAll([a!, b!, c!, bare]);
    }
  });

  it("counts a member with two tabs once and keeps them listed until the last tab closes", async () => {
    const room = uniqueRoom();
    const watcher = await connect(room, "name=watcher&rich=1");
    const token = await joinToken({ sub: "u1", name: "Una", room });
    const tab1 = await connect(room, `token=${token}`);
    const tab2 = await connect(room, `token=${token}`);
    try {
      await watcher.until((c) => presentCount(c) === 2, "count 2");
      expect(presentNames(watcher)).toEqual(["Una", "watcher"]);
      tab1.close();
      await tab1.untilClosed();
      await watcher.quiet(300);
      expect(presentNames(watcher)).toEqual(["Una", "watcher"]);
      expect(presentCount(watcher)).toBe(2);
      tab2.close();
      await watcher.until((c) => presentCount(c) === 1, "count 1");
      expect(presentNames(watcher)).toEqual(["watcher"]);
    } finally {
      closeAll([watcher, tab1, tab2]);
    }
  });

  it("sends joins and leaves of one interval as one presence frame", async () => {
    const room = uniqueRoom();
    const watcher = await connect(room, "name=watcher&rich=1");
    try {
      await watcher.untilType("welcome");
      await watcher.quiet(300);
      const before = watcher.frames.length;
      const requests = range(1, 30).map((i) =>
        request(wsPath(room, `name=p${i}`), { headers: { Upgrade: "websocket" } }),
      );
      const clients = (await Promise.all(requests)).map((r) => new Client(r.webSocket!));
      await watcher.until((c) => presentCount(c) === 31, "count 31");
      expect(presentNames(watcher)).toHaveLength(31);
      // 30 joins in a few ms: a handful of diffs, not 30 frames.
      expect(watcher.frames.length - before).toBeLessThanOrEqual(5);
      closeAll(clients);
      await watcher.until((c) => presentCount(c) === 1, "count back to 1");
      expect(presentNames(watcher)).toEqual(["watcher"]);
    } finally {
      watcher.close();
    }
  });
});

describe("member list pages", () => {
  it("welcomes with the first 100 members and a cursor; pages give the rest, each member once", async () => {
    const room = uniqueRoom();
    const requests = range(1, 230).map((i) =>
      request(wsPath(room, `name=p${i}`), { headers: { Upgrade: "websocket" } }),
    );
    const clients = (await Promise.all(requests)).map((r) => new Client(r.webSocket!));
    const reader = await connect(room, "name=reader&rich=1");
    try {
      await reader.untilType("welcome");
      const welcome = reader.ofType("welcome")[0]!;
      expect(welcome.count).toBe(231);
      expect(welcome.members).toHaveLength(100);
      expect(typeof welcome.more).toBe("string");

      let cursor: string | null = welcome.more as string;
      const names = new Set<string>(welcome.members.map((m: Frame) => m.name as string));
      for (let page = 1; cursor !== null; page++) {
        reader.send({ type: "members", cursor });
        await reader.untilType("members", page);
        const frame: Frame = reader.ofType("members")[page - 1]!;
        expect(frame.cursor).toBe(cursor);
        expect(frame.members.length).toBeLessThanOrEqual(100);
        for (const m of frame.members as Frame[]) {
          expect(names.has(m.name as string)).toBe(false);
          names.add(m.name as string);
        }
        cursor = frame.next as string | null;
      }
      expect(names.size).toBe(231);
      expect(names.has("reader")).toBe(true);

      const pages = reader.ofType("members").length;
      expect(pages).toBe(2);
      reader.send({ type: "members" });
      await reader.until((c) => c.ofType("members").length === pages + 1, "first page again");
      expect(reader.ofType("members")[pages]!.members).toEqual(welcome.members);
    } finally {
      closeAll([reader, ...clients]);
    }
  }, 30_000);

  it("tells a member the count and the first 100 until it asks for the list, then every join and leave", async () => {
    const room = uniqueRoom();
    const early: Client[] = [];
    // One at a time, so join order is p1..p101.
    for (const i of range(1, 101))
      early.push(
        new Client(
          (await request(wsPath(room, `name=p${i}`), { headers: { Upgrade: "websocket" } }))
            .webSocket!,
        ),
      );
    const watcher = await connect(room, "name=watcher&rich=1");
    const others: Client[] = [];
    try {
      await watcher.untilType("welcome");
      const welcome = watcher.ofType("welcome")[0]!;
      expect(welcome.count).toBe(102);
      expect(welcome.members.map((m: Frame) => m.name)).toEqual(range(1, 100).map((i) => `p${i}`));
      await watcher.quiet(300);

      // A join past the first 100: the count changes, the name is not sent.
      others.push(await connect(room, "name=late"));
      await watcher.until((c) => presentCount(c) === 103, "count 103");
      // The first of the 100 leaves: the next in join order moves up into the list.
      early[0]!.close();
      await watcher.until((c) => presentCount(c) === 102, "count 102 after p1 left");
      expect(presentNames(watcher)).toEqual(
        range(2, 101)
          .map((i) => `p${i}`)
          .toSorted(),
      );
      watcher.send({ type: "members", cursor: welcome.more });
      await watcher.untilType("members");
      const late = watcher.ofType("members")[0]!.members.find((m: Frame) => m.name === "late");
      expect(late).toBeDefined();
      expect(watcher.ofType("presence").flatMap(namedIn)).not.toContain(late.id);

      // Having asked for the list, the watcher hears of everyone.
      others.push(await connect(room, "name=later"));
      await watcher.until((c) => presentNames(c).includes("later"), "later joined");
      others[0]!.close();
      await watcher.until((c) => !presentNames(c).includes("late"), "late left");
      expect(presentCount(watcher)).toBe(102);
    } finally {
      closeAll([watcher, ...early, ...others]);
    }
  }, 30_000);

  it("refuses a cursor it never handed out, and limits how fast pages may be asked for", async () => {
    const room = uniqueRoom();
    const client = await connect(room, "rich=1");
    try {
      client.send({ type: "members", cursor: "../etc" });
      await client.untilType("error");
      expect(client.ofType("error")[0]).toMatchObject({ code: "bad_cursor" });
      // Still connected and still served.
      for (let i = 0; i < 25; i++) client.send({ type: "members" });
      await client.until((c) => c.ofType("error").length === 6, "five rate_limited errors");
      expect(client.ofType("members")).toHaveLength(20);
      expect(
        client
          .ofType("error")
          .slice(1)
          .map((e) => e.code),
      ).toEqual(Array(5).fill("rate_limited"));
      // A members request is never a chat message.
      expect(client.chats()).toEqual([]);
    } finally {
      client.close();
    }
  });
});
