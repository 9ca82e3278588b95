import { evictDurableObject, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import {
  api,
  closeAll,
  connect,
  inject,
  request,
  uniqueRoom,
  wsPath,
  type Client,
} from "./helpers";
import { TEST_HISTORY_LIMIT, TEST_HISTORY_ON_JOIN } from "./test-env";

async function injectMany(room: string, n: number, prefix = "m"): Promise<void> {
  for (let i = 1; i <= n; i++) {
    const res = await inject(room, `${prefix}${i}`);
    expect(res.status).toBe(201);
  }
}

function ids(client: Client): number[] {
  return client.chats().map((f) => f.id as number);
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

describe("history on join", () => {
  it("replays the latest HISTORY_ON_JOIN messages oldest first, then live ones", async () => {
    const room = uniqueRoom();
    await injectMany(room, 8);
    const joiner = await connect(room);
    try {
      await joiner.untilChats(TEST_HISTORY_ON_JOIN);
      expect(joiner.chats().map((f) => f.message)).toEqual(["m4", "m5", "m6", "m7", "m8"]);
      await inject(room, "live");
      await joiner.untilChats(TEST_HISTORY_ON_JOIN + 1);
      expect(ids(joiner)).toEqual(range(4, 9));
    } finally {
      joiner.close();
    }
  });

  it("tells a rich client in its welcome how many history frames follow", async () => {
    const room = uniqueRoom();
    await injectMany(room, 8);
    const latest = await connect(room, "rich=1");
    const resumed = await connect(room, "rich=1&since=6");
    try {
      await latest.untilChats(TEST_HISTORY_ON_JOIN);
      await resumed.untilChats(2);
      expect(latest.ofType("welcome")[0]!.history).toBe(TEST_HISTORY_ON_JOIN);
      expect(resumed.ofType("welcome")[0]!.history).toBe(2);
      expect(resumed.frames.map((f) => f.type)).toEqual(["welcome", "chat", "chat"]);
    } finally {
      closeAll([latest, resumed]);
    }
  });

  it("has no gap and no duplicate at the seam while messages are broadcast during joins", async () => {
    const room = uniqueRoom();
    await injectMany(room, 3);
    const total = 40;
    // Injections and joins interleave: each joiner's history ends somewhere
    // inside the burst and live frames must continue from exactly there.
    const sending = (async () => {
      await Promise.all(range(1, total).map((i) => inject(room, `burst ${i}`)));
    })();
    const joiners: Client[] = [];
    for (let i = 0; i < 8; i++) joiners.push(await connect(room));
    await sending;
    const last = 3 + total;
    try {
      for (const j of joiners) {
        await j.until((c) => ids(c).at(-1) === last, `id ${last}`);
        const got = ids(j);
        expect(got).toEqual(range(got[0]!, last));
      }
    } finally {
      closeAll(joiners);
    }
  });

  it("stores messages sent over WebSockets and injected ones in one sequence", async () => {
    const room = uniqueRoom();
    const alice = await connect(room, "name=alice");
    alice.send({ message: "from socket" });
    await alice.untilChats(1);
    await inject(room, "from api", "bot");
    await alice.untilChats(2);
    alice.close();
    const res = await api(`/rooms/${room}/messages`);
    const body = (await res.json()) as {
      messages: { id: number; user: string; message: string }[];
    };
    expect(body.messages.map((m) => [m.id, m.user, m.message])).toEqual([
      [1, "alice", "from socket"],
      [2, "bot", "from api"],
    ]);
  });
});

describe("resuming with ?since=", () => {
  it("replays exactly the messages after since, then live ones", async () => {
    const room = uniqueRoom();
    await injectMany(room, 12);
    const client = await connect(room, "since=4");
    try {
      await client.untilChats(8);
      await inject(room, "live");
      await client.untilChats(9);
      expect(ids(client)).toEqual(range(5, 13));
    } finally {
      client.close();
    }
  });

  it("replays nothing when since is the last id", async () => {
    const room = uniqueRoom();
    await injectMany(room, 6);
    const client = await connect(room, "since=6&rich=1");
    try {
      await client.untilType("welcome");
      await client.quiet();
      expect(client.chats()).toEqual([]);
      expect(client.ofType("history_gap")).toEqual([]);
      await inject(room, "next");
      await client.untilChats(1);
      expect(ids(client)).toEqual([7]);
    } finally {
      client.close();
    }
  });

  it("recovers every missed message exactly once after a disconnect", async () => {
    const room = uniqueRoom();
    const phone = await connect(room, "name=phone");
    const friend = await connect(room, "name=friend");
    friend.send({ message: "one" });
    await phone.untilChats(1);
    const lastSeen = ids(phone).at(-1)!;
    phone.close();
    friend.send({ message: "two" });
    // Stored before "three" is posted: the order the test expects.
    await friend.untilChats(2);
    await inject(room, "three");
    friend.send({ message: "four" });
    await friend.untilChats(4);
    const back = await connect(room, `name=phone&since=${lastSeen}`);
    try {
      await back.untilChats(3);
      await back.quiet();
      expect(back.chats().map((f) => f.message)).toEqual(["two", "three", "four"]);
    } finally {
      closeAll([back, friend]);
    }
  });

  it("tells a rich client when since is older than what the room keeps, then sends what it has", async () => {
    const room = uniqueRoom();
    await injectMany(room, TEST_HISTORY_LIMIT + 10);
    const rich = await connect(room, "since=2&rich=1");
    const bare = await connect(room, "since=2");
    try {
      await rich.untilChats(TEST_HISTORY_LIMIT);
      expect(rich.ofType("history_gap")).toEqual([{ type: "history_gap", since: 2, oldestId: 11 }]);
      expect(ids(rich)).toEqual(range(11, TEST_HISTORY_LIMIT + 10));
      await bare.untilChats(TEST_HISTORY_LIMIT);
      expect(bare.frames.every((f) => f.type === "chat")).toBe(true);
    } finally {
      closeAll([rich, bare]);
    }
  });

  it.each(["abc", "-1", "1.5", "1e3", "99999999999999999"])(
    "refuses since=%s with 400 before the upgrade",
    async (since) => {
      const res = await request(wsPath(uniqueRoom(), `since=${since}`), {
        headers: { Upgrade: "websocket" },
      });
      expect(res.status).toBe(400);
      expect(await res.json()).toEqual({ error: expect.stringMatching(/^invalid since/) });
    },
  );
});

describe("retention", () => {
  it("keeps only the latest HISTORY_LIMIT messages", async () => {
    const room = uniqueRoom();
    await injectMany(room, TEST_HISTORY_LIMIT + 5);
    const res = await api(`/rooms/${room}/messages?since=0&limit=${TEST_HISTORY_LIMIT}`);
    const body = (await res.json()) as {
      messages: { id: number }[];
      oldestId: number;
      lastId: number;
    };
    expect(body.oldestId).toBe(6);
    expect(body.lastId).toBe(TEST_HISTORY_LIMIT + 5);
    expect(body.messages.map((m) => m.id)).toEqual(range(6, TEST_HISTORY_LIMIT + 5));
  });
});

describe("history across eviction", () => {
  it("keeps history and the id sequence, and resumes exactly after the object is evicted", async () => {
    const room = uniqueRoom();
    const stub = env.CHAT_ROOM.getByName(room);
    const watcher = await connect(room);
    await injectMany(room, 5);
    await watcher.untilChats(5);
    watcher.close();
    await evictDurableObject(stub);
    await injectMany(room, 3, "after");
    const back = await connect(room, "since=5");
    try {
      await back.untilChats(3);
      expect(back.chats().map((f) => [f.id, f.message])).toEqual([
        [6, "after1"],
        [7, "after2"],
        [8, "after3"],
      ]);
      await evictDurableObject(stub);
      const res = await api(`/rooms/${room}/messages`);
      expect(((await res.json()) as { messages: unknown[] }).messages).toHaveLength(8);
    } finally {
      back.close();
    }
  });
});

describe("GET /api/rooms/:room/messages", () => {
  it("pages through history with since and limit", async () => {
    const room = uniqueRoom();
    await injectMany(room, 10);
    const page = async (query: string) =>
      (
        (await (await api(`/rooms/${room}/messages?${query}`)).json()) as {
          messages: { id: number }[];
        }
      ).messages.map((m) => m.id);
    expect(await page("limit=3")).toEqual([8, 9, 10]);
    expect(await page("since=2&limit=3")).toEqual([3, 4, 5]);
    expect(await page("since=10")).toEqual([]);
  });

  it.each(["since=x", "limit=-1", `limit=${TEST_HISTORY_LIMIT + 1}`])(
    "answers %s with 400",
    async (query) => {
      const res = await api(`/rooms/${uniqueRoom()}/messages?${query}`);
      expect(res.status).toBe(400);
    },
  );

  it("needs the bearer token", async () => {
    const res = await request(`/api/rooms/${uniqueRoom()}/messages`);
    expect(res.status).toBe(401);
  });
});

describe("schema", () => {
  it("upgrades a room stored by the first version, keeping its messages and ids", async () => {
    const room = uniqueRoom();
    const stub = env.CHAT_ROOM.getByName(room);
    await runInDurableObject(stub, (_instance, state) => {
      const sql = state.storage.sql;
      // The room as the first version left it: no verified, no client_id.
      sql.exec("DROP TABLE IF EXISTS messages");
      sql.exec(
        "CREATE TABLE messages (id INTEGER PRIMARY KEY, user TEXT NOT NULL, message TEXT NOT NULL, ts INTEGER NOT NULL)",
      );
      sql.exec("INSERT INTO messages VALUES (1, 'old', 'from before', 1)");
    });
    await evictDurableObject(stub);
    const client = await connect(room, "since=0");
    try {
      await client.untilChats(1);
      client.send({ message: "after the upgrade", clientId: "k1" });
      await client.untilChats(2);
      expect(client.chats().map((f) => [f.id, f.message, f.clientId])).toEqual([
        [1, "from before", undefined],
        [2, "after the upgrade", "k1"],
      ]);
    } finally {
      client.close();
    }
  });
});
