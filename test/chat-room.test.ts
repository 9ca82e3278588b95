import { evictDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { closeAll, connect, connectAll, inject, request, uniqueRoom, wsPath } from "./helpers";

describe("broadcast", () => {
  it("delivers a message to every member, sender included, with id, user and ts", async () => {
    const room = uniqueRoom();
    const alice = await connect(room, "name=alice");
    const bob = await connect(room, "name=bob");
    try {
      alice.send({ message: "hello" });
      await Promise.all([alice.untilChats(1), bob.untilChats(1)]);
      for (const c of [alice, bob]) {
        const [frame] = c.chats();
        expect(frame).toMatchObject({ type: "chat", message: "hello", user: "alice", id: 1 });
        expect(typeof frame!.ts).toBe("number");
        expect(Math.abs(frame!.ts - Date.now())).toBeLessThan(60_000);
      }
    } finally {
      closeAll([alice, bob]);
    }
  });

  it("reaches fifty members in the same order", async () => {
    const room = uniqueRoom();
    const clients = await connectAll(room, 50);
    try {
      clients[0]!.send({ message: "one" });
      clients[49]!.send({ message: "two" });
      clients[25]!.send({ message: "three" });
      await Promise.all(clients.map((c) => c.untilChats(3)));
      const sequences = clients.map((c) => c.chats().map((f) => `${f.id}:${f.message}`));
      expect(new Set(sequences.map((s) => s.join())).size).toBe(1);
      expect(sequences[0]!.map((s) => Number(s.split(":")[0]))).toEqual([1, 2, 3]);
    } finally {
      closeAll(clients);
    }
  });

  it("keeps rooms apart", async () => {
    const a = await connect(uniqueRoom("a"));
    const b = await connect(uniqueRoom("b"));
    try {
      a.send({ message: "only for a" });
      await a.untilChats(1);
      await b.quiet();
      expect(b.chats()).toEqual([]);
    } finally {
      closeAll([a, b]);
    }
  });

  it("speaks the tutorial's protocol to a bare client: only frames with a string message", async () => {
    const room = uniqueRoom();
    const bare = await connect(room);
    const other = await connect(room, "name=other&rich=1");
    try {
      other.close();
      const third = await connect(room, "name=third");
      third.send({ message: "hi" });
      await bare.untilChats(1);
      await bare.quiet();
      expect(bare.frames.length).toBe(1);
      for (const f of bare.frames) expect(typeof f.message).toBe("string");
      third.close();
    } finally {
      closeAll([bare, other]);
    }
  });
});

describe("display names", () => {
  it("trims the name and generates one when absent", async () => {
    const room = uniqueRoom();
    const named = await connect(room, `name=${encodeURIComponent("  李雷 ")}`);
    const anonymous = await connect(room);
    try {
      named.send({ message: "a" });
      anonymous.send({ message: "b" });
      await named.untilChats(2);
      const [a, b] = named.chats();
      expect(a!.user).toBe("李雷");
      expect(b!.user).toMatch(/^guest-\d{4}$/);
    } finally {
      closeAll([named, anonymous]);
    }
  });

  it.each([
    ["a control character", "bad%07name"],
    ["a newline", "two%0Alines"],
    ["33 characters", "x".repeat(33)],
  ])("refuses a name with %s before the upgrade", async (_what, name) => {
    const res = await request(wsPath(uniqueRoom(), `name=${name}`), {
      headers: { Upgrade: "websocket" },
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toMatch(/^invalid name/);
  });
});

describe("bad input from a client", () => {
  const cases: [string, string | ArrayBuffer, string][] = [
    ["malformed JSON", "{not json", "bad_json"],
    ["a JSON array", "[1,2]", "bad_frame"],
    ["a missing message", JSON.stringify({ text: "hi" }), "bad_frame"],
    ["a non-string message", JSON.stringify({ message: 42 }), "bad_frame"],
    ["an empty message", JSON.stringify({ message: "   " }), "empty_message"],
    [
      "a message over MAX_MESSAGE_CHARS",
      JSON.stringify({ message: "x".repeat(2001) }),
      "message_too_long",
    ],
    ["a huge frame", "x".repeat(500_000), "message_too_long"],
    [
      "a binary frame",
      new TextEncoder().encode('{"message":"hi"}').buffer as ArrayBuffer,
      "binary_frame",
    ],
  ];

  it.each(cases)(
    "answers %s with an error frame, broadcasts nothing and stays usable",
    async (_what, data, code) => {
      const room = uniqueRoom();
      const sender = await connect(room);
      const other = await connect(room);
      try {
        sender.ws.send(data);
        await sender.untilType("error");
        const [error] = sender.ofType("error");
        expect(error).toMatchObject({ type: "error", code });
        expect(typeof error!.message).toBe("string");
        expect(error!.message.length).toBeGreaterThan(5);

        sender.send({ message: "still here" });
        await other.untilChats(1);
        expect(other.chats().map((f) => f.message)).toEqual(["still here"]);
        expect(other.ofType("error")).toEqual([]);
      } finally {
        closeAll([sender, other]);
      }
    },
  );

  it("rate-limits a flooding connection without slowing the others", async () => {
    const room = uniqueRoom();
    const flooder = await connect(room, "name=flooder");
    const polite = await connect(room, "name=polite");
    try {
      for (let i = 0; i < 25; i++) flooder.send({ message: `flood ${i}` });
      await flooder.untilType("error", 5);
      expect(flooder.ofType("error").every((e) => e.code === "rate_limited")).toBe(true);
      polite.send({ message: "polite" });
      await polite.until((c) => c.chats().some((f) => f.message === "polite"), "polite message");
      const fromFlooder = polite.chats().filter((f) => f.user === "flooder");
      expect(fromFlooder.map((f) => f.message)).toEqual(
        Array.from({ length: 20 }, (_, i) => `flood ${i}`),
      );
    } finally {
      closeAll([flooder, polite]);
    }
  });
});

describe("the room object across hibernation", () => {
  it("keeps the member set, the id sequence and delivery to hibernated sockets after eviction", async () => {
    const room = uniqueRoom();
    const stub = env.CHAT_ROOM.getByName(room);
    const alice = await connect(room, "name=alice");
    const bob = await connect(room, "name=bob");
    try {
      alice.send({ message: "before" });
      await bob.untilChats(1);

      await evictDurableObject(stub);

      const stats = (await (
        await request(`/api/rooms/${room}`, {
          headers: { Authorization: "Bearer test-broadcast-token" },
        })
      ).json()) as {
        members: number;
        names: string[];
        lastId: number;
      };
      expect(stats.members).toBe(2);
      expect(stats.names.toSorted()).toEqual(["alice", "bob"]);
      expect(stats.lastId).toBe(1);

      bob.send({ message: "after" });
      await alice.untilChats(2);
      expect(alice.chats().map((f) => [f.id, f.user, f.message])).toEqual([
        [1, "alice", "before"],
        [2, "bob", "after"],
      ]);
      const res = await inject(room, "injected after eviction");
      expect(await res.json()).toEqual({ id: 3, delivered: 2 });
      await bob.untilChats(3);
    } finally {
      closeAll([alice, bob]);
    }
  });

  it("never reuses an id after the object is evicted with no one connected", async () => {
    const room = uniqueRoom();
    const stub = env.CHAT_ROOM.getByName(room);
    for (let i = 0; i < 3; i++) await inject(room, `m${i}`);
    await evictDurableObject(stub);
    const res = await inject(room, "next");
    expect(((await res.json()) as { id: number }).id).toBe(4);
  });

  it("forgets a member who left, and answers the close handshake", async () => {
    const room = uniqueRoom();
    const alice = await connect(room, "name=alice");
    const bob = await connect(room, "name=bob");
    bob.ws.close(1000, "bye");
    await bob.untilClosed();
    expect(bob.closed!.code).toBe(1000);
    const stats = (await (
      await request(`/api/rooms/${room}`, {
        headers: { Authorization: "Bearer test-broadcast-token" },
      })
    ).json()) as {
      names: string[];
    };
    expect(stats.names).toEqual(["alice"]);
    alice.close();
  });
});
