// Chat frames name their author's member id, so clients tell people apart by
// id and never by display name (docs/protocol.md, docs/identity.md).
import { sign } from "hono/jwt";
import { describe, expect, it } from "vitest";
import { closeAll, connect, inject, request, uniqueRoom, wsPath } from "./helpers";
import { TEST_JOIN_SECRET } from "./test-env";

const token = (claims: Record<string, unknown>) =>
  sign({ exp: Math.floor(Date.now() / 1000) + 600, ...claims }, TEST_JOIN_SECRET, "HS256");

const key = () => crypto.randomUUID().replaceAll("-", "");

describe("member ids on chat frames", () => {
  it("names the author by the id presence uses; two people with one name stay apart", async () => {
    const room = uniqueRoom();
    const alice = await connect(
      room,
      `rich=1&token=${await token({ sub: "alice-1", name: "Alice", room })}`,
    );
    const guest = await connect(room, "rich=1&name=Alice");
    try {
      await Promise.all([alice.untilType("welcome"), guest.untilType("welcome")]);
      const guestId = guest.ofType("welcome")[0]!.you.id as string;
      expect(guestId).not.toBe("alice-1");
      alice.send({ message: "from the real Alice" });
      await alice.untilChats(1);
      guest.send({ message: "from a guest called Alice" });
      await alice.untilChats(2);
      const [real, namesake] = alice.chats();
      expect(real).toMatchObject({ user: "Alice", memberId: "alice-1", verified: true });
      expect(namesake).toMatchObject({ user: "Alice", memberId: guestId });
      expect(namesake!.verified).toBeUndefined();
      // The same ids in history, for a page that joins later.
      const late = await connect(room, "rich=1");
      try {
        await late.untilChats(2);
        expect(late.chats().map((m) => m.memberId)).toEqual(["alice-1", guestId]);
      } finally {
        late.close();
      }
    } finally {
      closeAll([alice, guest]);
    }
  });

  it("leaves it out of messages injected over the API, which no member sent", async () => {
    const room = uniqueRoom();
    const listener = await connect(room);
    try {
      await inject(room, "from a script", "Alice");
      await listener.untilChats(1);
      expect(listener.chats()[0]).toMatchObject({ user: "Alice", message: "from a script" });
      expect(listener.chats()[0]!.memberId).toBeUndefined();
    } finally {
      listener.close();
    }
  });

  it("keeps the tutorial's bare client working: it still gets a string message", async () => {
    const room = uniqueRoom();
    const bare = await connect(room);
    try {
      bare.send({ message: "hello" });
      await bare.untilChats(1);
      expect(typeof bare.chats()[0]!.message).toBe("string");
      expect(bare.chats()[0]!.message).toBe("hello");
    } finally {
      bare.close();
    }
  });
});

describe("?guest= keys", () => {
  it("give a guest the same member id on every connection, and a different key another", async () => {
    const room = uniqueRoom();
    const mine = key();
    const first = await connect(room, `rich=1&name=Bo&guest=${mine}`);
    const again = await connect(room, `rich=1&name=Renamed&guest=${mine}`);
    const other = await connect(room, `rich=1&name=Bo&guest=${key()}`);
    const none = await connect(room, "rich=1&name=Bo");
    try {
      await Promise.all([first, again, other, none].map((c) => c.untilType("welcome")));
      const ids = [first, again, other, none].map((c) => c.ofType("welcome")[0]!.you.id);
      expect(ids[0]).toBe(ids[1]);
      expect(new Set(ids).size).toBe(3);
      // The id does not give the key away.
      expect(ids[0]).not.toContain(mine.slice(0, 8));
    } finally {
      closeAll([first, again, other, none]);
    }
  });

  it("give one key a different id in every room, which nobody without the server's secret can compute", async () => {
    const mine = key();
    const rooms = [uniqueRoom(), uniqueRoom()];
    const clients = [
      await connect(rooms[0]!, `rich=1&name=Bo&guest=${mine}`),
      await connect(rooms[1]!, `rich=1&name=Bo&guest=${mine}`),
    ];
    try {
      await Promise.all(clients.map((c) => c.untilType("welcome")));
      const [a, b] = clients.map((c) => c.ofType("welcome")[0]!.you.id as string);
      expect(a).toMatch(/^[0-9a-f]{16}$/);
      expect(b).toMatch(/^[0-9a-f]{16}$/);
      expect(a).not.toBe(b);
      // Not a plain hash of the key (what anyone could compute to link a guest).
      const digest = await crypto.subtle.digest(
        "SHA-256",
        new TextEncoder().encode(`guest:${mine}`),
      );
      const plain = [...new Uint8Array(digest)].map((x) => x.toString(16).padStart(2, "0"));
      expect([a, b]).not.toContain(plain.join("").slice(0, 16));
    } finally {
      closeAll(clients);
    }
  });

  it("is ignored next to a token: the id is the token's sub", async () => {
    const room = uniqueRoom();
    const client = await connect(
      room,
      `rich=1&guest=${key()}&token=${await token({ sub: "u-5", room })}`,
    );
    try {
      await client.untilType("welcome");
      expect(client.ofType("welcome")[0]!.you).toMatchObject({ id: "u-5", verified: true });
    } finally {
      client.close();
    }
  });

  it.each(["short", "x".repeat(129), "has space in it!!", "ключ-ключ-ключ-ключ"])(
    "refuses the key %j with 400 before the upgrade",
    async (bad) => {
      const res = await request(wsPath(uniqueRoom(), `guest=${encodeURIComponent(bad)}`), {
        headers: { Upgrade: "websocket" },
      });
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: string }).error).toMatch(/^invalid guest: /);
    },
  );
});
