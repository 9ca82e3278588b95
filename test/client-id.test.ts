import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { sign } from "hono/jwt";
import { describe, expect, it } from "vitest";
import { MessageStore } from "../src/room/message-store";
import { api, closeAll, connect, uniqueRoom } from "./helpers";
import { TEST_JOIN_SECRET } from "./test-env";

async function stored(room: string): Promise<{ id: number; message: string; clientId?: string }[]> {
  const res = await api(`/rooms/${room}/messages`);
  return ((await res.json()) as { messages: { id: number; message: string; clientId?: string }[] })
    .messages;
}

describe("clientId: resending a message never stores it twice", () => {
  it("echoes the clientId to every member, and answers a resend with the stored message to the sender only", async () => {
    const room = uniqueRoom();
    const phone = await connect(room, "name=phone");
    const friend = await connect(room, "name=friend");
    try {
      phone.send({ message: "on my way", clientId: "c-1" });
      await friend.untilChats(1);
      expect(friend.chats()[0]).toMatchObject({ id: 1, message: "on my way", clientId: "c-1" });

      phone.send({ message: "on my way", clientId: "c-1" });
      await phone.untilChats(2);
      expect(phone.chats().map((f) => [f.id, f.clientId])).toEqual([
        [1, "c-1"],
        [1, "c-1"],
      ]);
      await friend.quiet();
      expect(friend.chats()).toHaveLength(1);
      expect(await stored(room)).toEqual([expect.objectContaining({ id: 1, clientId: "c-1" })]);
    } finally {
      closeAll([phone, friend]);
    }
  });

  it("recognises a resend from a new connection, and replays clientIds in history", async () => {
    const room = uniqueRoom();
    const first = await connect(room);
    first.send({ message: "did this arrive?", clientId: "retry-me" });
    await first.untilChats(1);
    first.close();

    const again = await connect(room, "since=0");
    try {
      await again.untilChats(1);
      expect(again.chats()[0]).toMatchObject({ id: 1, clientId: "retry-me" });
      again.send({ message: "did this arrive?", clientId: "retry-me" });
      again.send({ message: "new one", clientId: "fresh" });
      await again.until((c) => c.chats().some((f) => f.clientId === "fresh"), "the new message");
      expect((await stored(room)).map((m) => [m.id, m.clientId])).toEqual([
        [1, "retry-me"],
        [2, "fresh"],
      ]);
    } finally {
      again.close();
    }
  });

  it("names the clientId of a refused message, and refuses a malformed clientId", async () => {
    const room = uniqueRoom();
    const client = await connect(room);
    try {
      client.send({ message: "   ", clientId: "blank-1" });
      client.send({ message: "hi", clientId: "has spaces" });
      client.send({ message: "hi", clientId: 42 });
      await client.untilType("error", 3);
      expect(client.ofType("error").map((e) => [e.code, e.clientId])).toEqual([
        ["empty_message", "blank-1"],
        ["bad_frame", undefined],
        ["bad_frame", undefined],
      ]);
      expect(await stored(room)).toEqual([]);
    } finally {
      client.close();
    }
  });
});

const token = (sub: string, room: string) =>
  sign(
    { sub, name: sub, room, exp: Math.floor(Date.now() / 1000) + 600 },
    TEST_JOIN_SECRET,
    "HS256",
  );
const guestKey = () => crypto.randomUUID().replaceAll("-", "");

describe("clientId belongs to its sender", () => {
  it.each([
    [
      "two token holders",
      async (room: string) => [
        `token=${await token("ann", room)}`,
        `token=${await token("bob", room)}`,
      ],
    ],
    ["two keyed guests", async () => [`guest=${guestKey()}`, `guest=${guestKey()}`]],
    [
      "a token holder and a keyed guest",
      async (room: string) => [`token=${await token("ann", room)}`, `guest=${guestKey()}`],
    ],
  ])(
    "stores the messages of %s that both number from c-1, each with its own receipt",
    async (_, queries) => {
      const room = uniqueRoom();
      const [qa, qb] = await queries(room);
      const a = await connect(room, qa);
      const b = await connect(room, qb);
      try {
        a.send({ message: "from a", clientId: "c-1" });
        await b.untilChats(1);
        b.send({ message: "from b", clientId: "c-1" });
        await a.untilChats(2);
        await b.untilChats(2);
        await a.quiet();
        for (const c of [a, b])
          expect(c.chats().map((f) => [f.id, f.message, f.clientId])).toEqual([
            [1, "from a", "c-1"],
            [2, "from b", "c-1"],
          ]);
        expect((await stored(room)).map((m) => m.message)).toEqual(["from a", "from b"]);
      } finally {
        closeAll([a, b]);
      }
    },
  );

  it("answers a keyed guest's resend from a new connection with its own message, not another's", async () => {
    const room = uniqueRoom();
    const key = guestKey();
    const other = await connect(room, `guest=${guestKey()}`);
    other.send({ message: "the other's", clientId: "c-1" });
    await other.untilChats(1);
    const first = await connect(room, `guest=${key}`);
    first.send({ message: "mine", clientId: "c-1" });
    await first.untilChats(1);
    first.close();
    const again = await connect(room, `guest=${key}&since=2`);
    try {
      again.send({ message: "mine", clientId: "c-1" });
      await again.untilChats(1);
      expect(again.chats()[0]).toMatchObject({ id: 2, message: "mine", clientId: "c-1" });
      expect((await stored(room)).map((m) => m.message)).toEqual(["the other's", "mine"]);
    } finally {
      closeAll([other, again]);
    }
  });

  it("keeps clientIds room-wide for guests without a key, whose id changes on every connection", async () => {
    const room = uniqueRoom();
    const a = await connect(room);
    const b = await connect(room);
    try {
      a.send({ message: "first", clientId: "c-1" });
      await b.untilChats(1);
      b.send({ message: "second", clientId: "c-1" });
      await b.untilChats(2);
      expect(b.chats()[1]).toMatchObject({ id: 1, message: "first" });
      expect((await stored(room)).map((m) => m.message)).toEqual(["first"]);
    } finally {
      closeAll([a, b]);
    }
  });
});

describe("the message store's clientIds", () => {
  it("stores nothing for a sender's second use of a clientId and returns the kept message as a duplicate", async () => {
    const stub = env.CHAT_ROOM.getByName(uniqueRoom());
    await runInDurableObject(stub, (_room, state) => {
      const store = new MessageStore(state.storage.sql, 30);
      const first = store.append("ann", "one", 1, true, "c-1", "ann", "m:ann");
      const again = store.append("ann", "one again", 2, true, "c-1", "ann", "m:ann");
      const bob = store.append("bob", "bob's", 3, true, "c-1", "bob", "m:bob");
      expect(first).toMatchObject({ id: 1, message: "one" });
      expect(first.duplicate).toBeUndefined();
      expect(again).toMatchObject({ id: 1, message: "one", duplicate: true });
      expect(bob).toMatchObject({ id: 2, message: "bob's" });
      expect(store.lastId).toBe(2);
      expect(store.after(0, 10).map((m) => m.message)).toEqual(["one", "bob's"]);
    });
  });

  it("migrates a room stored with room-wide clientIds: old messages keep their receipts", async () => {
    const stub = env.CHAT_ROOM.getByName(uniqueRoom());
    await runInDurableObject(stub, (_room, state) => {
      const sql = state.storage.sql;
      // The schema and index of the version before scopes, with its messages.
      sql.exec("DROP TABLE IF EXISTS messages");
      sql.exec(
        "CREATE TABLE messages (id INTEGER PRIMARY KEY, user TEXT NOT NULL, message TEXT NOT NULL, ts INTEGER NOT NULL, verified INTEGER NOT NULL DEFAULT 0, client_id TEXT, member_id TEXT)",
      );
      sql.exec(
        "CREATE UNIQUE INDEX messages_client_id ON messages (client_id) WHERE client_id IS NOT NULL",
      );
      sql.exec(
        "INSERT INTO messages VALUES (1, 'ann', 'verified', 1, 1, 'c-1', 'ann'), (2, 'g', 'guest', 2, 0, 'c-2', 'abcdef0123456789')",
      );
      const store = new MessageStore(sql, 30);
      // Opening twice is harmless.
      const reopened = new MessageStore(sql, 30);
      expect(reopened.lastId).toBe(2);
      expect(store.byClientId("m:ann", "c-1", "ann")).toMatchObject({ id: 1 });
      expect(store.byClientId("m:bob", "c-1", "bob")).toBeNull();
      // A keyed guest's old message is still its own; a keyless guest's room-wide.
      expect(store.byClientId("g:abcdef0123456789", "c-2", "abcdef0123456789")).toMatchObject({
        id: 2,
      });
      expect(store.byClientId("", "c-2", "someone-new")).toMatchObject({ id: 2 });
      // The room-wide index is gone: another sender may use c-1 now.
      expect(store.append("bob", "bob's", 3, true, "c-1", "bob", "m:bob")).toMatchObject({ id: 3 });
      expect(store.append("ann", "again", 4, true, "c-1", "ann", "m:ann")).toMatchObject({
        id: 1,
        duplicate: true,
      });
    });
  });
});
