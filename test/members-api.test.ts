/**
 * The members API, GET /api/rooms/:room/members, as docs/http-api.md
 * describes it: pages of up to `limit` members (default 100, at most 1,000)
 * in join order with their socket counts, the room's `count`, and `next`
 * until the end; walking `next` lists everyone who stays exactly once,
 * whoever joins and leaves meanwhile, even across a hibernation.
 */
import { evictDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { sign } from "hono/jwt";
import { describe, expect, it } from "vitest";
import { api, Client, closeAll, connect, request, uniqueRoom, wsPath } from "./helpers";
import { TEST_JOIN_SECRET } from "./test-env";

interface ListedMember {
  id: string;
  name: string;
  verified: boolean;
  connections: number;
}

interface Page {
  members: ListedMember[];
  count: number;
  next: string | null;
}

function joinToken(claims: Record<string, unknown>): Promise<string> {
  return sign({ exp: Math.floor(Date.now() / 1000) + 600, ...claims }, TEST_JOIN_SECRET, "HS256");
}

async function page(room: string, query = ""): Promise<Page> {
  const res = await api(`/rooms/${encodeURIComponent(room)}/members${query ? `?${query}` : ""}`);
  if (res.status !== 200)
    throw new Error(`GET members?${query}: ${res.status} ${await res.text()}`);
  return (await res.json()) as Page;
}

/** Members named `names`, joining all at once (bare sockets, as scripts join). */
async function join(room: string, names: string[]): Promise<Map<string, Client>> {
  const responses = await Promise.all(
    names.map((name) =>
      request(wsPath(room, `name=${name}`), { headers: { Upgrade: "websocket" } }),
    ),
  );
  return new Map(responses.map((res, i) => [names[i]!, new Client(res.webSocket!)]));
}

/** Waits until the API counts `n` members: a close reaches the room a moment after it is sent. */
async function untilCount(room: string, n: number): Promise<void> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const { count } = await page(room, "limit=1");
    if (count === n) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${n} members, have ${count}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const names = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

/** How often each name was listed over a walk. */
function tally(pages: Page[]): Map<string, number> {
  const seen = new Map<string, number>();
  for (const p of pages) for (const m of p.members) seen.set(m.name, (seen.get(m.name) ?? 0) + 1);
  return seen;
}

describe("members API pages", () => {
  it("gives 100 members by default, then the rest after `next`, in join order, ending with null", async () => {
    const room = uniqueRoom();
    // One by one, so join order is known.
    const clients: Client[] = [];
    for (const name of names("m", 130)) clients.push(await connect(room, `name=${name}`));
    try {
      const first = await page(room);
      expect(first.count).toBe(130);
      expect(first.members.map((m) => m.name)).toEqual(names("m", 100));
      expect(first.next).toEqual(expect.any(String));
      const second = await page(room, `cursor=${first.next}`);
      expect(second).toEqual({
        members: names("m", 130)
          .slice(100)
          .map((name) => ({
            id: expect.stringMatching(/^[0-9a-f]{12}$/),
            name,
            verified: false,
            connections: 1,
          })),
        count: 130,
        next: null,
      });
      // `limit` up to 1,000: here the whole room on one page.
      const all = await page(room, "limit=1000");
      expect(all.members).toHaveLength(130);
      expect(all.next).toBeNull();
      const small = await page(room, "limit=1");
      expect(small.members.map((m) => m.name)).toEqual(["m0"]);
      expect((await page(room, `limit=1&cursor=${small.next}`)).members[0]!.name).toBe("m1");
    } finally {
      closeAll(clients);
    }
  }, 30_000);

  it("answers an empty room with no members, count 0 and next null", async () => {
    expect(await page(uniqueRoom())).toEqual({ members: [], count: 0, next: null });
  });

  it.each([
    ["cursor=abc", "cursor"],
    ["cursor=-1", "cursor"],
    ["cursor=1.5", "cursor"],
    ["cursor=%201", "cursor"],
    ["cursor=1234567890123456", "cursor"],
    ["cursor=0x10", "cursor"],
    ["limit=0", "limit"],
    ["limit=1001", "limit"],
    ["limit=-5", "limit"],
    ["limit=1e3", "limit"],
    ["limit=ten", "limit"],
    ["limit=99999999999999999999", "limit"],
  ])("refuses %s with a 400 naming %s", async (query, parameter) => {
    const res = await api(`/rooms/${uniqueRoom()}/members?${query}`);
    expect(res.status).toBe(400);
    const { error } = (await res.json()) as { error: string };
    expect(error).toMatch(new RegExp(`^invalid ${parameter}: `));
  });

  it("takes a cursor past the end as the end: an empty page and next null", async () => {
    const room = uniqueRoom();
    const client = await connect(room, "name=solo");
    try {
      expect(await page(room, "cursor=999999999999999")).toEqual({
        members: [],
        count: 1,
        next: null,
      });
    } finally {
      client.close();
    }
  });

  it("needs the bearer token", async () => {
    const res = await request(`/api/rooms/${uniqueRoom()}/members`);
    expect(res.status).toBe(401);
  });
});

describe("members API connection counts", () => {
  it("lists a member once with its tabs counted, verified and guests apart, and follows tabs closing", async () => {
    const room = uniqueRoom();
    const token = await joinToken({ sub: "u1", name: "Ann", room });
    const key = "guest-key-0123456789";
    const ann = [1, 2, 3].map(() => connect(room, `token=${token}`));
    const bo = [1, 2].map(() => connect(room, `name=Bo&guest=${key}`));
    const clients = await Promise.all([...ann, ...bo, connect(room, "name=Cy")]);
    try {
      const connections = async () =>
        Object.fromEntries((await page(room)).members.map((m) => [m.name, m.connections]));
      const listed = await page(room);
      expect(listed.count).toBe(3);
      expect(listed.members.find((m) => m.name === "Ann")).toEqual({
        id: "u1",
        name: "Ann",
        verified: true,
        connections: 3,
      });
      expect(await connections()).toEqual({ Ann: 3, Bo: 2, Cy: 1 });
      clients[0]!.close();
      clients[3]!.close();
      await clients[0]!.untilClosed();
      const deadline = Date.now() + 5000;
      let now = await connections();
      while ((now.Ann !== 2 || now.Bo !== 1) && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 20));
        now = await connections();
      }
      expect(now).toEqual({ Ann: 2, Bo: 1, Cy: 1 });
      expect((await page(room)).count).toBe(3);
    } finally {
      closeAll(clients);
    }
  });
});

describe("walking `next` while the room changes", () => {
  it("lists every member who stays exactly once while others join and leave between pages", async () => {
    const room = uniqueRoom();
    // Leavers spread through the join order: some go after they were listed, some before.
    const joined = await join(
      room,
      Array.from({ length: 210 }, (_, i) => (i % 7 < 2 ? `leave${i}` : `stay${i}`)),
    );
    const split = (prefix: string) =>
      new Map([...joined].filter(([name]) => name.startsWith(prefix)));
    const [stayers, leavers] = [split("stay"), split("leave")];
    const newcomers = new Map<string, Client>();
    // A member present throughout whose tabs come and go: still one member.
    const key = "tabby-key-0123456789";
    const tabby = [await connect(room, `name=tabby&guest=${key}`)];
    const everyone = () => [
      ...stayers.values(),
      ...leavers.values(),
      ...newcomers.values(),
      ...tabby,
    ];
    try {
      await untilCount(room, 211);
      const pages: Page[] = [];
      let cursor: string | null = null;
      let round = 0;
      do {
        const p: Page = await page(room, `limit=40${cursor === null ? "" : `&cursor=${cursor}`}`);
        expect(p.members.length).toBeLessThanOrEqual(40);
        pages.push(p);
        cursor = p.next;
        // Between pages: ten leave, ten arrive, and tabby's tabs change.
        const going = [...leavers.keys()].slice(round * 10, round * 10 + 10);
        for (const name of going) leavers.get(name)!.close();
        for (const [name, client] of await join(room, names(`new${round}-`, 10)))
          newcomers.set(name, client);
        if (round % 2 === 0) tabby.push(await connect(room, `name=tabby&guest=${key}`));
        else tabby.shift()!.close();
        round++;
        await untilCount(room, 211 - Math.min(round * 10, leavers.size) + newcomers.size);
      } while (cursor !== null);

      expect(pages.length).toBeGreaterThanOrEqual(6);
      const seen = tally(pages);
      const stayed = [...stayers.keys(), "tabby"];
      expect(Object.fromEntries(stayed.map((name) => [name, seen.get(name)]))).toEqual(
        Object.fromEntries(stayed.map((name) => [name, 1])),
      );
      // Nobody twice, and nobody who was never here.
      const twice = [...seen].filter(([, times]) => times > 1);
      expect(twice).toEqual([]);
      const strangers = [...seen.keys()].filter(
        (name) => !stayed.includes(name) && !leavers.has(name) && !newcomers.has(name),
      );
      expect(strangers).toEqual([]);
    } finally {
      closeAll(everyone());
    }
  }, 60_000);

  it("keeps its cursors across a hibernation: the walk goes on where it stopped", async () => {
    const room = uniqueRoom();
    const clients = await join(room, names("h", 150));
    try {
      // Gaps in the join order before the object sleeps.
      for (const name of names("h", 150).filter((_, i) => i % 3 === 0)) clients.get(name)!.close();
      await untilCount(room, 100);
      const first = await page(room, "limit=60");
      await evictDurableObject(env.CHAT_ROOM.getByName(room));
      const pages = [first];
      for (let cursor = first.next; cursor !== null;) {
        const p = await page(room, `limit=60&cursor=${cursor}`);
        pages.push(p);
        cursor = p.next;
      }
      const seen = tally(pages);
      const stayed = names("h", 150).filter((_, i) => i % 3 !== 0);
      expect([...seen.keys()].toSorted()).toEqual(stayed.toSorted());
      expect([...seen.values()].every((n) => n === 1)).toBe(true);
      expect(pages.at(-1)!.count).toBe(100);
    } finally {
      closeAll([...clients.values()]);
    }
  }, 30_000);
});
