/**
 * A room spread over relay objects (ROOM_RELAYS=3, the "relays" project):
 * members on different relays see one sequence of ids, moderation and
 * presence reach across relays, and the faults a relay can meet (eviction,
 * a room restart, a push lost or late, a room out of reach) cost nobody a
 * message: members resume with `since` and get exactly what they missed.
 */
import { evictDurableObject, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { RoomRelay } from "../src/relay/room-relay";
import { guestIdFor } from "../src/identity/guest-key";
import { relayName } from "../src/room/relay-links";
import { relayFor } from "../src/worker/relay-choice";
import { api, closeAll, connect, inject, presentCount, uniqueRoom, type Client } from "./helpers";
import { TEST_TOKEN } from "./test-env";

interface Stats {
  members: number;
  lastId: number;
  relays?: { relay: number; sockets: number }[];
}

async function stats(room: string): Promise<Stats> {
  const res = await api(`/rooms/${encodeURIComponent(room)}`);
  expect(res.status).toBe(200);
  return (await res.json()) as Stats;
}

const RELAYS = 3;

/** A guest key whose member lands on relay `relay` (the Worker hashes the guest's id). */
async function keyFor(room: string, relay: number): Promise<string> {
  for (;;) {
    const key = crypto.randomUUID();
    const id = await guestIdFor(key, room, TEST_TOKEN);
    if (id.ok && relayFor(id.value, RELAYS) === relay) return key;
  }
}

/** `n` keyed guests, member i on relay i mod 3, so every relay holds some. */
async function spread(room: string, n: number, query = ""): Promise<Client[]> {
  const clients: Client[] = [];
  for (let i = 0; i < n; i++)
    clients.push(await connect(room, `guest=${await keyFor(room, i % RELAYS)}&${query}`));
  return clients;
}

async function injectMany(room: string, n: number, prefix = "m"): Promise<void> {
  for (let i = 1; i <= n; i++) expect((await inject(room, `${prefix}${i}`)).status).toBe(201);
}

const ids = (c: Client) => c.chats().map((f) => f.id as number);

describe("a room over three relays", { timeout: 20_000 }, () => {
  it("spreads members over relays and gives every one the same ids", async () => {
    const room = uniqueRoom();
    const clients = await spread(room, 12);
    try {
      const s = await stats(room);
      expect(s.members).toBe(12);
      expect(s.relays?.length).toBe(3);
      expect(s.relays!.reduce((sum, r) => sum + r.sockets, 0)).toBe(12);
      await injectMany(room, 5);
      clients[0]!.send({ message: "from a member" });
      for (const c of clients) await c.untilChats(6);
      for (const c of clients) expect(ids(c)).toEqual([1, 2, 3, 4, 5, 6]);
      expect(clients[5]!.chats().at(-1)!.message).toBe("from a member");
    } finally {
      closeAll(clients);
    }
  });

  it("counts members over all relays in presence, and a leave reaches everyone", async () => {
    const room = uniqueRoom();
    const clients = await spread(room, 6, "rich=1");
    try {
      for (const c of clients) await c.until((x) => presentCount(x) === 6, "count 6");
      clients[5]!.close();
      for (const c of clients.slice(0, 5)) await c.until((x) => presentCount(x) === 5, "count 5");
      expect((await stats(room)).members).toBe(5);
    } finally {
      closeAll(clients);
    }
  });

  it("a kick reaches the member on whichever relay holds it", async () => {
    const room = uniqueRoom();
    const clients = await spread(room, 6, "rich=1");
    try {
      const victim = clients[4]!;
      await victim.untilType("welcome");
      const id = victim.ofType("welcome")[0]!.you.id as string;
      const res = await api(`/rooms/${encodeURIComponent(room)}/members/${id}?kind=guest`, {
        method: "DELETE",
      });
      expect(res.status).toBe(200);
      await victim.untilClosed();
      expect(victim.closed!.code).toBe(4001);
      for (const c of clients.slice(0, 4)) await c.until((x) => presentCount(x) === 5, "count 5");
    } finally {
      closeAll(clients);
    }
  });

  it("resumes with since on any relay with exactly what was missed", async () => {
    const room = uniqueRoom();
    const first = await connect(room, `guest=${crypto.randomUUID()}`);
    await injectMany(room, 3);
    await first.untilChats(3);
    first.close();
    await injectMany(room, 4, "later");
    const others = await spread(room, 6, "since=3");
    try {
      for (const c of others) await c.untilChats(4);
      for (const c of others) expect(ids(c)).toEqual([4, 5, 6, 7]);
    } finally {
      closeAll(others);
    }
  });

  it("applies the send limit per member across its sockets on different relays", async () => {
    const room = uniqueRoom();
    const token = TEST_TOKEN;
    expect(token).toBeTruthy();
    const address = "10.9.9.9";
    const clients: Client[] = [];
    try {
      for (let i = 0; i < 3; i++)
        clients.push(
          await connect(room, `guest=${await keyFor(room, i)}&name=same`, {
            "CF-Connecting-IP": address,
          }),
        );
      const s = await stats(room);
      expect(s.relays!.length).toBeGreaterThan(1);
      // Same address and name: one guest sender, whatever relay each socket is on.
      for (let i = 0; i < 30; i++) clients[i % 3]!.send({ message: `n${i}` });
      for (const c of clients) await c.untilChats(20);
      await clients[0]!.quiet(300);
      expect(clients[0]!.chats().length).toBe(20);
      const limited = clients.flatMap((c) => c.ofType("error"));
      expect(limited.length).toBe(10);
    } finally {
      closeAll(clients);
    }
  });
});

describe("relay faults", { timeout: 20_000 }, () => {
  it("a relay evicted mid-stream keeps its members, and a resume loses nothing", async () => {
    const room = uniqueRoom();
    const clients = await spread(room, 9);
    try {
      await injectMany(room, 3);
      for (const c of clients) await c.untilChats(3);
      for (let i = 0; i < 3; i++)
        await evictDurableObject(env.ROOM_RELAY.getByName(relayName(room, i)));
      await injectMany(room, 3, "after");
      for (const c of clients) await c.untilChats(6);
      for (const c of clients) expect(ids(c)).toEqual([1, 2, 3, 4, 5, 6]);
      const back = await connect(room, `guest=${crypto.randomUUID()}&since=2`);
      try {
        await back.untilChats(4);
        expect(ids(back)).toEqual([3, 4, 5, 6]);
      } finally {
        back.close();
      }
    } finally {
      closeAll(clients);
    }
  });

  it("the room restarted while relays hold members: they keep getting every message", async () => {
    const room = uniqueRoom();
    const clients = await spread(room, 6, "rich=1");
    try {
      await injectMany(room, 2);
      for (const c of clients) await c.untilChats(2);
      await evictDurableObject(env.CHAT_ROOM.getByName(room));
      expect((await stats(room)).members).toBe(6);
      await injectMany(room, 2, "after");
      clients[2]!.send({ message: "still here" });
      for (const c of clients) await c.untilChats(5);
      for (const c of clients) expect(ids(c)).toEqual([1, 2, 3, 4, 5]);
    } finally {
      closeAll(clients);
    }
  });

  it("a push that failed or came late: the gap is filled, nothing twice", async () => {
    const room = uniqueRoom();
    const clients = await spread(room, 6);
    try {
      await injectMany(room, 2);
      for (const c of clients) await c.untilChats(2);
      // A lost push: the room stores messages and its push to relay 0 fails.
      const stub = env.ROOM_RELAY.getByName(relayName(room, 0));
      const restore = await runInDurableObject(stub, (relay: RoomRelay) => {
        const proto = Object.getPrototypeOf(relay) as RoomRelay;
        const original = proto.push;
        let dropped = 0;
        proto.push = async function (this: RoomRelay, push) {
          if (this === relay && dropped++ < 1) throw new Error("lost");
          return original.call(this, push);
        };
        return () => (proto.push = original);
      });
      try {
        await injectMany(room, 4, "gap");
        for (const c of clients) await c.untilChats(6);
      } finally {
        restore();
      }
      for (const c of clients) expect(ids(c)).toEqual([1, 2, 3, 4, 5, 6]);
      // A late push (older than what the relay sent since) changes nothing.
      const { epoch } = (await (await api(`/rooms/${room}/messages`)).json()) as { epoch: number };
      await stub.push({ epoch, lastId: 4, frames: [[4, clients[0]!.raw[3] as string]] });
      await clients[0]!.quiet();
      for (const c of clients) expect(ids(c)).toEqual([1, 2, 3, 4, 5, 6]);
    } finally {
      closeAll(clients);
    }
  });

  it("a relay that cannot reach the room closes its members with 1013", async () => {
    const room = uniqueRoom();
    const clients = await spread(room, 6);
    try {
      const stub = env.ROOM_RELAY.getByName(relayName(room, 1));
      await runInDurableObject(stub, (relay: RoomRelay) => {
        Object.defineProperty(relay, "env", {
          value: {
            ...env,
            CHAT_ROOM: {
              getByName: () => ({ relayEvents: () => Promise.reject(new Error("down")) }),
            },
          },
        });
      });
      for (const c of clients) c.send({ message: `hi` });
      // Members of the other relays are served; those of relay 1 are told to come back.
      const closed = await Promise.all(
        clients.map((c) =>
          c.until((x) => x.closed !== null || x.chats().length >= 1, "a chat or a close"),
        ),
      );
      expect(closed).toHaveLength(6);
      const codes = clients.filter((c) => c.closed).map((c) => c.closed!.code);
      expect(codes.length).toBeGreaterThan(0);
      expect(new Set(codes)).toEqual(new Set([1013]));
    } finally {
      closeAll(clients);
    }
  });
});
