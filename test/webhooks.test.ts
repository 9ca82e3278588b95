// Webhooks from the rooms, inside workerd. This file runs in its own vitest
// project with WEBHOOK_URL set (vitest.config.ts); the receiver is a stub of
// the global fetch, which the room objects share with the tests.
import { env } from "cloudflare:workers";
import { evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { sign } from "hono/jwt";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { api, closeAll, connect, inject, uniqueRoom, type Client } from "./helpers";
import {
  TEST_HISTORY_LIMIT,
  TEST_JOIN_SECRET,
  TEST_WEBHOOK_KEY,
  TEST_WEBHOOK_SECRET,
  TEST_WEBHOOK_URL,
} from "./test-env";

// oxlint-disable-next-line typescript/no-explicit-any -- events are checked field by field
type Event = Record<string, any>;

interface Delivery {
  at: number;
  /** What the receiver answered. */
  status: number;
  body: string;
  key: string | null;
  signature: string | null;
  contentType: string | null;
  payload: { time_ms: number; events: Event[] };
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

/** The rooms' error log lines (src/log.ts), parsed; the room objects share the tests' console. */
const errors: Event[] = [];
beforeAll(() => {
  const realError = console.error;
  vi.spyOn(console, "error").mockImplementation((...args: unknown[]) => {
    const [line] = args;
    if (typeof line === "string" && line.startsWith('{"event":"error"'))
      errors.push(JSON.parse(line) as Event);
    else realError(...args);
  });
});

function errorLines(room: string): Event[] {
  return errors.filter((e) => e.room === room);
}

/** The events the receiver accepted for `room` (2xx answers only), in order. */
function accepted(room: string): Event[] {
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
  it.concurrent("retries a failed batch with exponential backoff, the same events signed with each attempt's time", async () => {
    const room = uniqueRoom();
    answers.set(room, (attempt) => (attempt <= 3 ? 503 : 200));
    const guest = await join(room);
    try {
      await until("4 attempts", () => (deliveries.get(room)?.length ?? 0) >= 4, 15_000);
      const attempts = deliveries.get(room)!;
      expect(new Set(attempts.map((a) => JSON.stringify(a.payload.events))).size).toBe(1);
      for (const a of attempts) {
        // Signed as sent: time_ms is the attempt's, and the signature covers it.
        expect(a.signature).toBe(await hmacHex(TEST_WEBHOOK_SECRET, a.body));
        expect(Math.abs(a.at - a.payload.time_ms)).toBeLessThan(1_000);
      }
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

  it("gives a batch up after about five minutes and resyncs the room instead", async () => {
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
      await until("the resync", () => (deliveries.get(room)?.length ?? 0) >= 2);
      // The dropped batch held the guest's arrival: the resync states the room
      // as it is, the later arrival included.
      expect(deliveries.get(room)![1]!.payload.events).toEqual([
        { name: "channel_occupied", channel: room },
        { name: "member_added", channel: room, user_id: memberId(guest) },
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

describe("a receiver that converges", () => {
  it("is told a departed member is gone when the batch saying so was dropped", async () => {
    const room = uniqueRoom();
    let down = false;
    answers.set(room, () => (down ? 500 : 200));
    const stub = env.CHAT_ROOM.getByName(room);
    const guest = await join(room);
    const id = memberId(guest);
    await until("occupied and added", () => accepted(room).length >= 2);
    down = true;
    guest.close();
    await until("a refused departure", () => deliveries.get(room)!.some((d) => d.status === 500));
    // The departure has been retried for six minutes and is given up.
    await runInDurableObject(stub, (_, state) => {
      state.storage.sql.exec("UPDATE webhook_batches SET created_at = created_at - 360000");
    });
    down = false;
    await runDurableObjectAlarm(stub);
    await until("the resync", () => accepted(room).length >= 4);
    expect(accepted(room)).toEqual([
      { name: "channel_occupied", channel: room },
      { name: "member_added", channel: room, user_id: id },
      { name: "member_removed", channel: room, user_id: id },
      { name: "channel_vacated", channel: room },
    ]);
    await sleep(2_500);
    expect(accepted(room).length).toBe(4);
  });

  it.concurrent.each([400, 401, 403, 404, 410, 422])(
    "does not retry a batch refused with %i; the next attempt is a resync",
    async (status) => {
      const room = uniqueRoom();
      answers.set(room, (attempt) => (attempt === 1 ? status : 200));
      const guest = await join(room);
      try {
        await until("a second delivery", () => (deliveries.get(room)?.length ?? 0) >= 2);
        await sleep(2_500);
        const [refused, resync, ...rest] = deliveries.get(room)!;
        expect(refused!.status).toBe(status);
        // One attempt, then the room as it is: no retry of the refused body after it.
        expect(resync!.payload.events).toEqual(refused!.payload.events);
        expect(rest).toEqual([]);
        expect(accepted(room)).toEqual([
          { name: "channel_occupied", channel: room },
          { name: "member_added", channel: room, user_id: memberId(guest) },
        ]);
        // Dropped and logged as such, not retried.
        expect(errorLines(room)).toContainEqual(
          expect.objectContaining({ webhook: "dropped", failure: `HTTP ${status}`, attempts: 1 }),
        );
      } finally {
        guest.close();
      }
    },
  );

  it.concurrent.each([408, 429])("retries a batch refused with %i", async (status) => {
    const room = uniqueRoom();
    answers.set(room, (attempt) => (attempt <= 2 ? status : 200));
    const guest = await join(room);
    try {
      await until("three attempts", () => (deliveries.get(room)?.length ?? 0) >= 3);
      await sleep(2_500);
      expect(deliveries.get(room)!.map((d) => d.status)).toEqual([status, status, 200]);
    } finally {
      guest.close();
    }
  });

  it.concurrent("keeps backing off while a receiver refuses everything, and resyncs once it accepts", async () => {
    const room = uniqueRoom();
    let status = 401;
    answers.set(room, () => status);
    const guest = await join(room);
    try {
      await until("a refusal", () => (deliveries.get(room)?.length ?? 0) >= 1);
      await sleep(6_000);
      // Refused, then resyncs 1 s, 2 s and 4 s apart: not one attempt per alarm.
      const refused = deliveries.get(room)!.length;
      expect(refused).toBeGreaterThanOrEqual(2);
      expect(refused).toBeLessThanOrEqual(4);
      // Each refusal dropped and logged; what follows it is a resync, not a retry.
      expect(errorLines(room).filter((e) => e.webhook === "dropped").length).toBe(refused);
      status = 200;
      await until("accepted", () => accepted(room).length >= 2, 15_000);
      expect(accepted(room)).toEqual([
        { name: "channel_occupied", channel: room },
        { name: "member_added", channel: room, user_id: memberId(guest) },
      ]);
    } finally {
      guest.close();
    }
  });

  it("refused in a big room, costs one request per resync, and converges once accepted", async () => {
    const room = uniqueRoom();
    let status = 401;
    answers.set(room, () => status);
    const clients: Client[] = [];
    try {
      for (let i = 0; i < 120; i++) clients.push(await connect(room));
      await until("a refusal", () => (deliveries.get(room)?.length ?? 0) >= 1);
      await sleep(4_000);
      // 120 arrivals make 6 batches and a resync 2 deliveries: after the first
      // refusal, the rest of each is dropped unsent; resyncs 1 s and 2 s apart.
      expect(deliveries.get(room)!.length).toBeLessThanOrEqual(4);
      status = 200;
      await until(
        "everyone accepted",
        () => accepted(room).filter((e) => e.name === "member_added").length >= 120,
        70_000,
      );
      const added = accepted(room).filter((e) => e.name === "member_added");
      expect(new Set(added.map((e) => e.user_id)).size).toBe(120);
      expect(accepted(room)[0]).toEqual({ name: "channel_occupied", channel: room });
      for (const d of deliveries.get(room)!)
        expect(d.payload.events.length).toBeLessThanOrEqual(100);
    } finally {
      closeAll(clients);
    }
  }, 90_000);

  it.concurrent("says nothing of a member who joins and leaves before its arrival is sent", async () => {
    const room = uniqueRoom();
    const stays = await join(room);
    await until("the first member", () => accepted(room).length >= 2);
    const visitor = await connect(room, "rich=1");
    visitor.close();
    await sleep(6_500);
    try {
      expect(accepted(room)).toEqual([
        { name: "channel_occupied", channel: room },
        { name: "member_added", channel: room, user_id: memberId(stays) },
      ]);
    } finally {
      stays.close();
    }
  });

  it("signs a backlog with the time it is sent, not the time it was made", async () => {
    const room = uniqueRoom();
    answers.set(room, (attempt) => (attempt === 1 ? 503 : 200));
    const madeAt = Date.now() - 4 * 60_000;
    // The room's clock says four minutes ago while the event is queued and first tried.
    vi.useFakeTimers({ toFake: ["Date"], now: madeAt });
    let guest: Client | undefined;
    try {
      guest = await join(room);
      await until("a first attempt", () => (deliveries.get(room)?.length ?? 0) >= 1);
    } finally {
      vi.useRealTimers();
    }
    try {
      await until("the delivery", () => accepted(room).length >= 2, 15_000);
      const [first, last] = deliveries.get(room)!;
      expect(Math.abs(first!.payload.time_ms - madeAt)).toBeLessThan(60_000);
      // Pusher's Python library refuses a time_ms more than 300 s from its clock.
      expect(Math.abs(last!.payload.time_ms - last!.at)).toBeLessThan(1_000);
      expect(last!.signature).toBe(await hmacHex(TEST_WEBHOOK_SECRET, last!.body));
    } finally {
      guest?.close();
    }
  });
});

describe("the outbox", () => {
  it("is indexed on member and due time", async () => {
    const room = uniqueRoom();
    const guest = await join(room);
    try {
      await until("added", () => accepted(room).length >= 2);
      const indexed = await runInDurableObject(env.CHAT_ROOM.getByName(room), (_, state) =>
        state.storage.sql
          .exec<{ name: string }>("PRAGMA index_list(webhook_events)")
          .toArray()
          .flatMap(({ name }) =>
            state.storage.sql
              .exec<{ name: string }>(`PRAGMA index_info(${name})`)
              .toArray()
              .map((c) => c.name),
          ),
      );
      expect(indexed).toEqual(expect.arrayContaining(["member", "due_at"]));
    } finally {
      guest.close();
    }
  });

  it("is not created in a room that has had no event", async () => {
    const room = uniqueRoom();
    const res = await api(`/rooms/${room}/messages`);
    expect(res.status).toBe(200);
    const tables = await runInDurableObject(env.CHAT_ROOM.getByName(room), (_, state) =>
      state.storage.sql
        .exec<{ name: string }>("SELECT name FROM sqlite_master WHERE name LIKE 'webhook%'")
        .toArray(),
    );
    expect(tables).toEqual([]);
  });

  it("takes over a room whose tables come from the previous version, and resyncs it", async () => {
    const room = uniqueRoom();
    const stub = env.CHAT_ROOM.getByName(room);
    // The tables as the previous version left them: a member marked reported
    // when queued, an undelivered batch with its whole body.
    await runInDurableObject(stub, (_, state) => {
      const sql = state.storage.sql;
      sql.exec("CREATE TABLE webhook_members (id TEXT PRIMARY KEY)");
      sql.exec(
        "CREATE TABLE webhook_events (seq INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, member TEXT, due_at INTEGER NOT NULL)",
      );
      sql.exec(
        "CREATE TABLE webhook_batches (id INTEGER PRIMARY KEY AUTOINCREMENT, body TEXT NOT NULL, created_at INTEGER NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, next_at INTEGER NOT NULL)",
      );
      sql.exec("INSERT INTO webhook_members (id) VALUES ('old-member')");
      const body = JSON.stringify({
        time_ms: Date.now() - 1000,
        events: [
          { name: "channel_occupied", channel: room },
          { name: "member_added", channel: room, user_id: "old-member" },
        ],
      });
      sql.exec(
        "INSERT INTO webhook_batches (body, created_at, next_at) VALUES (?, ?, ?)",
        body,
        Date.now() - 1000,
        Date.now() - 1000,
      );
    });
    await evictDurableObject(stub);
    const guest = await join(room);
    try {
      // The old batch goes out (with a fresh time_ms), then the room as it
      // is: old-member is not here (no socket came back), the guest is.
      await until(
        "the old member's departure",
        () => accepted(room).some((e) => e.name === "member_removed"),
        15_000,
      );
      const events = accepted(room);
      expect(events.slice(0, 2)).toEqual([
        { name: "channel_occupied", channel: room },
        { name: "member_added", channel: room, user_id: "old-member" },
      ]);
      expect(events).toContainEqual({
        name: "member_added",
        channel: room,
        user_id: memberId(guest),
      });
      expect(events.at(-1)).toEqual({
        name: "member_removed",
        channel: room,
        user_id: "old-member",
      });
      for (const d of deliveries.get(room)!)
        expect(d.signature).toBe(await hmacHex(TEST_WEBHOOK_SECRET, d.body));
    } finally {
      guest.close();
    }
  });
});

/** The message events the receiver accepted for `room`, in order. */
function messageEvents(room: string): Event[] {
  return accepted(room).filter((e) => e.name === "client_event");
}

describe("message events (WEBHOOK_MESSAGES)", () => {
  it.concurrent("posts each stored message as a client_event carrying the frame members got", async () => {
    const room = uniqueRoom();
    const alice = await join(room, "alice");
    try {
      alice.send({ message: "hello <b>there</b>", clientId: "c-1" });
      await alice.untilType("chat");
      expect((await inject(room, "from the backend", "bot")).status).toBe(201);
      await until("two message events", () => messageEvents(room).length >= 2);
      const frames = alice.raw.filter(
        (r): r is string => typeof r === "string" && r.startsWith('{"type":"chat"'),
      );
      expect(frames.length).toBe(2);
      expect(messageEvents(room)).toEqual([
        {
          name: "client_event",
          channel: room,
          event: "message",
          id: 1,
          data: frames[0],
          user_id: "alice",
        },
        { name: "client_event", channel: room, event: "message", id: 2, data: frames[1] },
      ]);
      expect(JSON.parse(frames[0]!)).toMatchObject({
        id: 1,
        message: "hello <b>there</b>",
        memberId: "alice",
        verified: true,
        clientId: "c-1",
      });
    } finally {
      alice.close();
    }
  });

  it.concurrent("delivers every message once and in order across a receiver outage", async () => {
    const room = uniqueRoom();
    let down = true;
    answers.set(room, () => (down ? 503 : 200));
    for (let i = 1; i <= 12; i++) expect((await inject(room, `m${i}`)).status).toBe(201);
    await until("a refused delivery", () => (deliveries.get(room)?.length ?? 0) >= 2);
    down = false;
    await until("all twelve", () => messageEvents(room).length >= 12, 15_000);
    await sleep(1_000);
    expect(messageEvents(room).map((e) => e.id)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    expect(messageEvents(room).map((e) => JSON.parse(e.data).message)).toEqual(
      Array.from({ length: 12 }, (_, i) => `m${i + 1}`),
    );
  });

  it.concurrent("keeps at most half the history for a receiver that is down, dropping the oldest", async () => {
    const room = uniqueRoom();
    let down = true;
    answers.set(room, () => (down ? 503 : 200));
    const total = TEST_HISTORY_LIMIT + 10;
    for (let i = 1; i <= total; i++) expect((await inject(room, `m${i}`)).status).toBe(201);
    down = false;
    await until(
      "the newest message",
      () => messageEvents(room).some((e) => e.id === total),
      15_000,
    );
    await sleep(1_000);
    const ids = messageEvents(room).map((e) => e.id);
    // The newest, in order, each once: the jump from 0 shows the receiver what it missed.
    expect(ids.length).toBeLessThanOrEqual(TEST_HISTORY_LIMIT / 2);
    expect(ids).toEqual(Array.from({ length: ids.length }, (_, i) => total - ids.length + 1 + i));
    // What it missed is still in the history the API serves.
    const missed = await api(`/rooms/${room}/messages?since=0`);
    const { messages } = (await missed.json()) as { messages: { id: number }[] };
    expect(messages[0]!.id).toBeLessThanOrEqual(ids[0]! - 1);
  });

  it("stores no message whose event cannot be stored", async () => {
    const room = uniqueRoom();
    expect((await inject(room, "first")).status).toBe(201);
    const stub = env.CHAT_ROOM.getByName(room);
    await runInDurableObject(stub, (_, state) => {
      state.storage.sql.exec(
        "CREATE TRIGGER refuse BEFORE INSERT ON webhook_events BEGIN SELECT RAISE(ABORT, 'full'); END",
      );
    });
    const res = await inject(room, "second");
    expect(res.status).toBeGreaterThanOrEqual(500);
    const history = await api(`/rooms/${room}/messages?since=0`);
    const body = (await history.json()) as { messages: { message: string }[]; lastId: number };
    expect(body.messages.map((m) => m.message)).toEqual(["first"]);
    expect(body.lastId).toBe(1);
  });
});
