// Webhooks from the rooms, inside workerd. This file runs in its own vitest
// project with WEBHOOK_URL set (vitest.config.ts); the receiver is a stub of
// the global fetch, which the room objects share with the tests.
import { env } from "cloudflare:workers";
import { evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { sign } from "hono/jwt";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { closeAll, connect, uniqueRoom, type Client } from "./helpers";
import {
  TEST_JOIN_SECRET,
  TEST_WEBHOOK_KEY,
  TEST_WEBHOOK_SECRET,
  TEST_WEBHOOK_URL,
} from "./test-env";

interface Delivery {
  at: number;
  /** What the receiver answered. */
  status: number;
  body: string;
  key: string | null;
  signature: string | null;
  contentType: string | null;
  payload: { time_ms: number; events: Record<string, string>[] };
}

/** Every POST the rooms made, by room; and what each room's receiver answers. */
const deliveries = new Map<string, Delivery[]>();
const answers = new Map<string, (attempt: number) => number>();

beforeAll(() => {
  const realFetch = globalThis.fetch;
  vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
    const request = new Request(input, init);
    if (!request.url.startsWith(TEST_WEBHOOK_URL)) return realFetch(input, init);
    const body = await request.text();
    const payload = JSON.parse(body) as Delivery["payload"];
    const room = payload.events[0]!.channel!;
    const list = deliveries.get(room) ?? [];
    const status = answers.get(room)?.(list.length + 1) ?? 200;
    list.push({
      at: Date.now(),
      status,
      body,
      key: request.headers.get("X-Pusher-Key"),
      signature: request.headers.get("X-Pusher-Signature"),
      contentType: request.headers.get("Content-Type"),
      payload,
    });
    deliveries.set(room, list);
    return new Response(null, { status });
  });
});
afterAll(() => vi.restoreAllMocks());

/** The events the receiver accepted for `room` (2xx answers only), in order. */
function accepted(room: string): Record<string, string>[] {
  return (deliveries.get(room) ?? [])
    .filter((d) => d.status < 300)
    .flatMap((d) => d.payload.events);
}

async function until(what: string, check: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function join(room: string, sub?: string): Promise<Client> {
  const query = ["rich=1"];
  if (sub) {
    const exp = Math.floor(Date.now() / 1000) + 600;
    query.push(`token=${await sign({ sub, room, exp }, TEST_JOIN_SECRET, "HS256")}`);
  }
  const client = await connect(room, query.join("&"));
  await client.untilType("welcome");
  return client;
}

function memberId(client: Client): string {
  return client.ofType("welcome")[0]!.you.id as string;
}

async function hmacHex(secret: string, body: string): Promise<string> {
  const key = await crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const mac = await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(body));
  return [...new Uint8Array(mac)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// Leaves wait out a 5 s grace and retries back off in seconds: real time.
vi.setConfig({ testTimeout: 20_000 });

describe("webhook format", () => {
  it("posts occupancy and membership as Pusher does, signed with WEBHOOK_SECRET", async () => {
    const room = uniqueRoom();
    const before = Date.now();
    const guest = await join(room);
    try {
      await until("first delivery", () => (deliveries.get(room)?.length ?? 0) > 0);
      const [first] = deliveries.get(room)!;
      expect(first!.payload.events).toEqual([
        { name: "channel_occupied", channel: room },
        { name: "member_added", channel: room, user_id: memberId(guest) },
      ]);
      expect(first!.payload.time_ms).toBeGreaterThanOrEqual(before);
      expect(first!.payload.time_ms).toBeLessThanOrEqual(first!.at);
      expect(first!.key).toBe(TEST_WEBHOOK_KEY);
      expect(first!.contentType).toBe("application/json");
      expect(first!.signature).toBe(await hmacHex(TEST_WEBHOOK_SECRET, first!.body));
      expect(first!.signature).not.toBe(await hmacHex("another secret", first!.body));
    } finally {
      guest.close();
    }
  });
});

describe("batching", () => {
  it("sends joins within about 250 ms, at most 20 events per POST", async () => {
    const room = uniqueRoom();
    const start = Date.now();
    const clients: Client[] = [];
    try {
      for (let i = 0; i < 30; i++) clients.push(await join(room));
      await until(
        "30 member_added",
        () => accepted(room).filter((e) => e.name === "member_added").length === 30,
      );
      const batches = deliveries.get(room)!;
      for (const b of batches) expect(b.payload.events.length).toBeLessThanOrEqual(20);
      // 31 events (occupied + 30 added) in a few POSTs, not one per join.
      expect(batches.length).toBeLessThanOrEqual(6);
      expect(batches.length).toBeGreaterThanOrEqual(2);
      expect(new Set(accepted(room).map((e) => e.user_id))).toEqual(
        new Set([undefined, ...clients.map(memberId)]),
      );
      // The first batch left within the window (plus scheduling slack), not after all joins.
      expect(batches[0]!.at - start).toBeLessThan(1500);
    } finally {
      closeAll(clients);
    }
  });
});

describe("members, not sockets", () => {
  it.concurrent("reports two tabs of one member once, and the leave only when both close", async () => {
    const room = uniqueRoom();
    const tab1 = await join(room, "user-7");
    const tab2 = await join(room, "user-7");
    await until("added", () => accepted(room).length >= 2);
    tab1.close();
    await sleep(6_000);
    expect(accepted(room)).toEqual([
      { name: "channel_occupied", channel: room },
      { name: "member_added", channel: room, user_id: "user-7" },
    ]);
    tab2.close();
    await until("removed", () => accepted(room).length >= 4);
    expect(accepted(room).slice(2)).toEqual([
      { name: "member_removed", channel: room, user_id: "user-7" },
      { name: "channel_vacated", channel: room },
    ]);
  });

  it.concurrent("says nothing when a member leaves and comes back within a few seconds", async () => {
    const room = uniqueRoom();
    const stays = await join(room);
    const first = await join(room, "user-9");
    await until("both added", () => accepted(room).length >= 3);
    first.close();
    await sleep(1_500);
    const again = await join(room, "user-9");
    const guest = await join(room);
    await sleep(6_500);
    try {
      expect(accepted(room)).toEqual([
        { name: "channel_occupied", channel: room },
        { name: "member_added", channel: room, user_id: memberId(stays) },
        { name: "member_added", channel: room, user_id: "user-9" },
        { name: "member_added", channel: room, user_id: memberId(guest) },
      ]);
    } finally {
      closeAll([stays, again, guest]);
    }
  });
});

describe("delivery", () => {
  it.concurrent("retries a failed batch with exponential backoff, unchanged", async () => {
    const room = uniqueRoom();
    answers.set(room, (attempt) => (attempt <= 3 ? 503 : 200));
    const guest = await join(room);
    try {
      await until("4 attempts", () => (deliveries.get(room)?.length ?? 0) >= 4, 15_000);
      const attempts = deliveries.get(room)!;
      expect(new Set(attempts.map((a) => a.body)).size).toBe(1);
      expect(new Set(attempts.map((a) => a.signature)).size).toBe(1);
      const gaps = attempts.slice(1).map((a, i) => a.at - attempts[i]!.at);
      // 1 s, 2 s, 4 s: each wait about twice the one before.
      expect(gaps[0]).toBeGreaterThanOrEqual(900);
      expect(gaps[1]).toBeGreaterThanOrEqual(1.6 * gaps[0]!);
      expect(gaps[2]).toBeGreaterThanOrEqual(1.6 * gaps[1]!);
      await sleep(1_500);
      expect(deliveries.get(room)!.length).toBe(4);
    } finally {
      guest.close();
    }
  });

  it("keeps undelivered batches and unsent events across evictDurableObject", async () => {
    const room = uniqueRoom();
    let down = true;
    answers.set(room, () => (down ? 500 : 200));
    const stub = env.CHAT_ROOM.getByName(room);
    const guest = await join(room);
    try {
      await until("a failed attempt", () => (deliveries.get(room)?.length ?? 0) >= 1);
      // A second member joins and the object is evicted before its event is batched.
      const second = await join(room, "user-2");
      await evictDurableObject(stub);
      down = false;
      await until(
        "both members delivered after the eviction",
        () => accepted(room).filter((e) => e.name === "member_added").length === 2,
        10_000,
      );
      expect(accepted(room)).toEqual([
        { name: "channel_occupied", channel: room },
        { name: "member_added", channel: room, user_id: memberId(guest) },
        { name: "member_added", channel: room, user_id: "user-2" },
      ]);
      const left = await runInDurableObject(stub, (_, state) =>
        state.storage.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM webhook_batches").one(),
      );
      expect(left.n).toBe(0);
      second.close();
    } finally {
      guest.close();
    }
  });

  it("gives a batch up after about five minutes and goes on with the next", async () => {
    const room = uniqueRoom();
    answers.set(room, (attempt) => (attempt <= 1 ? 500 : 200));
    const stub = env.CHAT_ROOM.getByName(room);
    const guest = await join(room);
    try {
      await until("a failed attempt", () => (deliveries.get(room)?.length ?? 0) >= 1);
      // Pretend the batch was made six minutes ago, then let a later event queue up.
      await runInDurableObject(stub, (_, state) => {
        state.storage.sql.exec("UPDATE webhook_batches SET created_at = created_at - 360000");
      });
      const second = await join(room, "user-3");
      await until("the next batch", () => (deliveries.get(room)?.length ?? 0) >= 2);
      const [, next] = deliveries.get(room)!;
      expect(next!.payload.events).toEqual([
        { name: "member_added", channel: room, user_id: "user-3" },
      ]);
      // The old batch is gone for good: running the alarm again sends nothing.
      await runDurableObjectAlarm(stub);
      await sleep(1_500);
      expect(deliveries.get(room)!.length).toBe(2);
      second.close();
    } finally {
      guest.close();
    }
  });
});
