import { env } from "cloudflare:workers";
import { evictDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { api, closeAll, connect, uniqueRoom } from "./helpers";
import { TEST_HISTORY_LIMIT } from "./test-env";

function postMessages(room: string, json: unknown, headers: Record<string, string> = {}) {
  return api(`/rooms/${encodeURIComponent(room)}/messages`, { method: "POST", json, headers });
}

async function storedTexts(room: string): Promise<string[]> {
  const res = await api(`/rooms/${encodeURIComponent(room)}/messages?limit=${TEST_HISTORY_LIMIT}`);
  return ((await res.json()) as { messages: { message: string }[] }).messages.map((m) => m.message);
}

describe("Idempotency-Key", () => {
  it("answers a retry with the first result and neither stores nor broadcasts it again", async () => {
    const room = uniqueRoom();
    const listener = await connect(room);
    try {
      const key = crypto.randomUUID();
      const first = await postMessages(room, { message: "once" }, { "Idempotency-Key": key });
      expect(first.status).toBe(201);
      const firstBody = await first.json();
      expect(firstBody).toEqual({ id: 1, delivered: 1 });
      expect(first.headers.get("Idempotent-Replayed")).toBeNull();

      const retry = await postMessages(room, { message: "once" }, { "Idempotency-Key": key });
      expect(retry.status).toBe(201);
      expect(await retry.json()).toEqual(firstBody);
      expect(retry.headers.get("Idempotent-Replayed")).toBe("true");

      await listener.untilChats(1);
      await listener.quiet();
      expect(listener.chats()).toHaveLength(1);
      expect(await storedTexts(room)).toEqual(["once"]);
    } finally {
      listener.close();
    }
  });

  it("remembers keys across eviction", async () => {
    const room = uniqueRoom();
    const key = crypto.randomUUID();
    await postMessages(room, { message: "once" }, { "Idempotency-Key": key });
    await evictDurableObject(env.CHAT_ROOM.getByName(room));
    const retry = await postMessages(room, { message: "once" }, { "Idempotency-Key": key });
    expect(await retry.json()).toEqual({ id: 1, delivered: 0 });
    expect(await storedTexts(room)).toEqual(["once"]);
  });

  it("treats concurrent retries with one key as one message", async () => {
    const room = uniqueRoom();
    const key = crypto.randomUUID();
    const answers = await Promise.all(
      Array.from({ length: 5 }, () =>
        postMessages(room, { message: "burst" }, { "Idempotency-Key": key }),
      ),
    );
    const bodies = await Promise.all(answers.map((r) => r.json()));
    expect(new Set(bodies.map((b) => JSON.stringify(b))).size).toBe(1);
    expect(await storedTexts(room)).toEqual(["burst"]);
  });

  it("refuses a key reused for a different body with 422", async () => {
    const room = uniqueRoom();
    const key = crypto.randomUUID();
    await postMessages(room, { message: "first" }, { "Idempotency-Key": key });
    const res = await postMessages(room, { message: "second" }, { "Idempotency-Key": key });
    expect(res.status).toBe(422);
    expect(((await res.json()) as { error: string }).error).toMatch(/different body/);
    expect(await storedTexts(room)).toEqual(["first"]);
  });

  it("keeps keys per room", async () => {
    const key = crypto.randomUUID();
    const [a, b] = [uniqueRoom(), uniqueRoom()];
    await postMessages(a, { message: "x" }, { "Idempotency-Key": key });
    const res = await postMessages(b, { message: "x" }, { "Idempotency-Key": key });
    expect(res.headers.get("Idempotent-Replayed")).toBeNull();
    expect(await storedTexts(b)).toEqual(["x"]);
  });

  it.each(["", "has space", "x".repeat(256), "ключ"])(
    "refuses the key %j with 400",
    async (key) => {
      const room = uniqueRoom();
      const res = await api(`/rooms/${room}/messages`, {
        method: "POST",
        json: { message: "x" },
        headers: { "Idempotency-Key": encodeURIComponent(key) === key ? key : "bad key" },
      });
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: string }).error).toMatch(/Idempotency-Key/);
      expect(await storedTexts(room)).toEqual([]);
    },
  );
});

describe("batches", () => {
  it("stores and delivers a batch in order, answering ids and sockets reached", async () => {
    const room = uniqueRoom();
    const [a, b] = [await connect(room), await connect(room)];
    try {
      const messages = Array.from({ length: 100 }, (_, i) => ({
        message: `line ${i}`,
        user: i % 2 ? "odd" : "even",
      }));
      const res = await postMessages(room, { messages });
      expect(res.status).toBe(201);
      const body = (await res.json()) as { ids: number[]; delivered: number };
      expect(body).toEqual({ ids: Array.from({ length: 100 }, (_, i) => i + 1), delivered: 2 });
      for (const c of [a, b]) {
        await c.untilChats(100);
        expect(c.chats().map((f) => [f.message, f.user])).toEqual(
          messages.map((m) => [m.message, m.user]),
        );
      }
    } finally {
      closeAll([a, b]);
    }
  });

  it("is not interleaved with messages sent at the same time", async () => {
    const room = uniqueRoom();
    const messages = Array.from({ length: 20 }, (_, i) => ({ message: `batch ${i}` }));
    const [batch] = await Promise.all([
      postMessages(room, { messages }),
      ...Array.from({ length: 10 }, (_, i) => postMessages(room, { message: `single ${i}` })),
    ]);
    const ids = ((await batch!.json()) as { ids: number[] }).ids;
    expect(ids.at(-1)! - ids[0]!).toBe(19);
  });

  it("replays a batch under one Idempotency-Key", async () => {
    const room = uniqueRoom();
    const key = crypto.randomUUID();
    const messages = [{ message: "a" }, { message: "b" }];
    const first = await (await postMessages(room, { messages }, { "Idempotency-Key": key })).json();
    const again = await (await postMessages(room, { messages }, { "Idempotency-Key": key })).json();
    expect(again).toEqual(first);
    expect(await storedTexts(room)).toEqual(["a", "b"]);
  });

  it.each([
    ["an empty batch", { messages: [] }, /non-empty array/],
    [
      "101 messages",
      { messages: Array.from({ length: 101 }, () => ({ message: "x" })) },
      /at most 100/,
    ],
    ["a bad item", { messages: [{ message: "ok" }, { message: 3 }] }, /messages\[1\]/],
    [
      "an item with a bad user",
      { messages: [{ message: "ok", user: "a\u0007" }] },
      /messages\[0\]: invalid user/,
    ],
    ["both shapes at once", { message: "x", messages: [{ message: "y" }] }, /either/],
  ])("refuses %s with 400 and stores nothing", async (_what, json, error) => {
    const room = uniqueRoom();
    const res = await postMessages(room, json);
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toMatch(error);
    expect(await storedTexts(room)).toEqual([]);
  });
});
