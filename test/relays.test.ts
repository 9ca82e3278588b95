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
import type { ChatRoom, RelayJoinAnswer } from "../src/room/chat-room";
import { serialize, type ChatMessage } from "../src/protocol";
import { guestIdFor } from "../src/identity/guest-key";
import { relayName } from "../src/room/relay-links";
import { relayFor } from "../src/worker/relay-choice";
import {
  api,
  closeAll,
  connect,
  failSql,
  inject,
  presentCount,
  uniqueRoom,
  type Client,
} from "./helpers";
import { TEST_HISTORY_LIMIT, TEST_TOKEN } from "./test-env";

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

/** The raw chat frames a client received, as the bytes came. */
const chatBytes = (c: Client) => c.raw.filter((_, i) => c.frames[i]!.type === "chat");

/** The stored messages after `since`, serialised as the room sends them. */
async function storedFrames(room: string, since: number): Promise<string[]> {
  const res = await api(`/rooms/${encodeURIComponent(room)}/messages?since=${since}`);
  expect(res.status).toBe(200);
  return ((await res.json()) as { messages: ChatMessage[] }).messages.map(serialize);
}

async function epochOf(room: string): Promise<number> {
  const res = await api(`/rooms/${encodeURIComponent(room)}/messages`);
  return ((await res.json()) as { epoch: number }).epoch;
}

/**
 * Records what the room answers each relay join with (how much of the
 * relay's copy it relied on, how much history it sent itself); `during`
 * runs inside the room before its first answer is made, `after` once it
 * is made, before the relay has it. Put back with `restore`.
 */
async function watchRelayJoins(
  room: string,
  hooks: {
    during?: (room: ChatRoom) => Promise<unknown>;
    after?: (room: ChatRoom) => Promise<unknown>;
  } = {},
): Promise<{ answers: RelayJoinAnswer[]; restore: () => void }> {
  const answers: RelayJoinAnswer[] = [];
  const restore = await runInDurableObject(env.CHAT_ROOM.getByName(room), (chat: ChatRoom) => {
    const proto = Object.getPrototypeOf(chat) as ChatRoom;
    const original = proto.relayJoin;
    let first = true;
    proto.relayJoin = async function (this: ChatRoom, ...args) {
      if (this !== chat) return original.apply(this, args);
      const hook = first;
      first = false;
      if (hook) await hooks.during?.(this);
      const answer = await original.apply(this, args);
      answers.push(answer);
      if (hook) await hooks.after?.(this);
      return answer;
    };
    return () => (proto.relayJoin = original);
  });
  return { answers, restore };
}

/** The welcome's history count, its chat frames' ids and bytes: what a resume got. */
function resumeOf(c: Client) {
  const welcome = c.ofType("welcome")[0];
  return {
    history: welcome?.history as number | undefined,
    lastId: welcome?.lastId as number | undefined,
    gaps: c.frames.filter((f) => f.type === "history_gap" || f.type === "history_reset"),
    ids: ids(c),
    bytes: chatBytes(c),
  };
}

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

/** A member on relay 0 that stays (so the relay keeps its copy), and the key of one that left after `seen`. */
async function leftAfter(room: string, seen: number, missed: number) {
  const stay = await connect(room, `guest=${await keyFor(room, 0)}`);
  const key = await keyFor(room, 0);
  const leaver = await connect(room, `guest=${key}`);
  await injectMany(room, seen);
  await leaver.untilChats(seen);
  leaver.close();
  await injectMany(room, missed, "missed");
  await stay.untilChats(seen + missed);
  return { stay, key };
}

describe("a resume on a relay that holds what was missed", { timeout: 20_000 }, () => {
  it("is served from the relay's copy: the room reads none of its history", async () => {
    const room = uniqueRoom();
    const { stay, key } = await leftAfter(room, 3, 4);
    const clients = [stay];
    try {
      // A restarted room has no copy in memory: history would come from storage.
      await evictDurableObject(env.CHAT_ROOM.getByName(room));
      const restore = await failSql(room, "FROM messages WHERE id >");
      let back: Client;
      try {
        back = await connect(room, `guest=${key}&since=3&rich=1`);
        clients.push(back);
        await back.untilChats(4);
      } finally {
        await restore();
      }
      // What the room sends when no relay holds the frames (relay 2 holds nobody).
      const fromRoom = await connect(room, `guest=${await keyFor(room, 2)}&since=3&rich=1`);
      clients.push(fromRoom);
      await fromRoom.untilChats(4);
      await inject(room, "live");
      for (const c of [back, fromRoom]) await c.untilChats(5);
      expect(resumeOf(back)).toEqual(resumeOf(fromRoom));
      expect(resumeOf(back)).toMatchObject({ history: 4, lastId: 7, ids: [4, 5, 6, 7, 8] });
      expect(chatBytes(back)).toEqual(await storedFrames(room, 3));
    } finally {
      closeAll(clients);
    }
  });

  it("takes from the room only what the relay lacks, with no gap or duplicate at the seam", async () => {
    const room = uniqueRoom();
    const { stay, key } = await leftAfter(room, 3, 2);
    const clients = [stay];
    // One message is stored while the room admits the joiner (the relay's
    // copy ends before it), one after the room answered, before the relay
    // accepts the socket (a live frame).
    const watch = await watchRelayJoins(room, {
      during: (chat) => chat.inject([{ message: "during", user: "api" }], null),
      after: (chat) => chat.inject([{ message: "after", user: "api" }], null),
    });
    try {
      const back = await connect(room, `guest=${key}&since=3&rich=1`);
      clients.push(back);
      await back.untilChats(4);
      await inject(room, "live");
      await back.untilChats(5);
      await back.quiet();
      const [answer] = watch.answers;
      expect(answer).toMatchObject({ ok: true, fromRelay: 2, history: [expect.any(String)] });
      expect(resumeOf(back)).toMatchObject({
        history: 3,
        lastId: 6,
        gaps: [],
        ids: [4, 5, 6, 7, 8],
      });
      expect(chatBytes(back)).toEqual(await storedFrames(room, 3));
      expect(ids(stay)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    } finally {
      watch.restore();
      closeAll(clients);
    }
  });

  it("a relay evicted has no copy: the room sends it all, then the relay's copy serves what it holds", async () => {
    const room = uniqueRoom();
    const { stay, key } = await leftAfter(room, 3, 2);
    const clients = [stay];
    const watch = await watchRelayJoins(room);
    try {
      await evictDurableObject(env.ROOM_RELAY.getByName(relayName(room, 0)));
      const back = await connect(room, `guest=${key}&since=3`);
      clients.push(back);
      await back.untilChats(2);
      expect(ids(back)).toEqual([4, 5]);
      // After the eviction the relay has forwarded 6 and 7 only.
      await injectMany(room, 2, "new");
      await stay.untilChats(7);
      const behind = await connect(room, `guest=${await keyFor(room, 0)}&since=4`);
      const recent = await connect(room, `guest=${await keyFor(room, 0)}&since=5`);
      clients.push(behind, recent);
      await behind.untilChats(3);
      await recent.untilChats(2);
      await back.untilChats(4);
      expect(watch.answers.map((a) => a.ok && [a.fromRelay, a.history.length])).toEqual([
        [0, 2],
        [0, 3],
        [2, 0],
      ]);
      expect(chatBytes(back)).toEqual(await storedFrames(room, 3));
      expect(chatBytes(behind)).toEqual(await storedFrames(room, 4));
      expect(chatBytes(recent)).toEqual(await storedFrames(room, 5));
    } finally {
      watch.restore();
      closeAll(clients);
    }
  });

  it("reaching past the room's history window, the room answers (history_gap), as with no relay copy", async () => {
    const room = uniqueRoom();
    // Relay 0 holds all 40 frames; the room keeps the last 30 (11 to 40).
    const { stay, key } = await leftAfter(room, 2, TEST_HISTORY_LIMIT + 8);
    const clients = [stay];
    const watch = await watchRelayJoins(room);
    try {
      const other = await keyFor(room, 2);
      for (const since of [10, 9])
        for (const guest of [key, other])
          clients.push(await connect(room, `guest=${guest}&since=${since}&rich=1`));
      const [edge, edgeFromRoom, past, pastFromRoom] = clients.slice(1) as Client[];
      for (const c of clients.slice(1)) await c.untilChats(TEST_HISTORY_LIMIT);
      await stay.quiet();
      expect(resumeOf(edge!)).toEqual(resumeOf(edgeFromRoom!));
      expect(resumeOf(past!)).toEqual(resumeOf(pastFromRoom!));
      expect(resumeOf(edge!)).toMatchObject({ history: 30, gaps: [] });
      expect(resumeOf(past!).gaps).toEqual([{ type: "history_gap", since: 9, oldestId: 11 }]);
      expect(chatBytes(edge!)).toEqual(await storedFrames(room, 10));
      // Only the join at the window's edge was the relay's.
      expect(watch.answers.map((a) => a.ok && [a.fromRelay, a.history.length])).toEqual([
        [30, 0],
        [0, 30],
        [0, 30],
        [0, 30],
      ]);
    } finally {
      watch.restore();
      closeAll(clients);
    }
  });

  it("a stale epoch gets history_reset, not the relay's frames; the right one gets them", async () => {
    const room = uniqueRoom();
    const { stay, key } = await leftAfter(room, 2, 3);
    const clients = [stay];
    const watch = await watchRelayJoins(room);
    try {
      const epoch = await epochOf(room);
      const stale = await connect(room, `guest=${key}&since=2&epoch=${epoch - 1}&rich=1`);
      clients.push(stale);
      await stale.untilType("history_reset");
      await stale.quiet();
      expect(stale.ofType("history_reset")).toEqual([
        { type: "history_reset", since: 2, lastId: 5 },
      ]);
      expect(stale.chats()).toEqual([]);
      const right = await connect(room, `guest=${key}&since=2&epoch=${epoch}&rich=1`);
      clients.push(right);
      await right.untilChats(3);
      expect(resumeOf(right)).toMatchObject({ history: 3, gaps: [], ids: [3, 4, 5] });
      expect(chatBytes(right)).toEqual(await storedFrames(room, 2));
      expect(watch.answers.map((a) => a.ok && [a.fromRelay, a.history.length])).toEqual([
        [0, 0],
        [3, 0],
      ]);
    } finally {
      watch.restore();
      closeAll(clients);
    }
  });
});
