/**
 * Members that do not keep up are closed with 4008 and resume with `since`,
 * losing nothing; everybody else gets every message once, in order. A member
 * that acknowledges (`{"type":"ack","lastId":N}`) may be MAX_UNACKED_BYTES
 * (1 MiB) or half of HISTORY_LIMIT (15 in tests) messages behind; one that
 * never acknowledges may be sent 8 MiB of live chat per connection.
 */
import { describe, expect, it } from "vitest";
import { NEVER_ACKED_FACTOR, SlowConsumers } from "../src/room/slow-consumers";
import { api, closeAll, connect, presentNames, uniqueRoom, type Client } from "./helpers";
import { TEST_HISTORY_LIMIT, TEST_HISTORY_ON_JOIN } from "./test-env";

const BUDGET = 1024 * 1024;
const MAX_LAG = TEST_HISTORY_LIMIT / 2;

/** Posts `batches` batches of `size` messages of `chars` characters; waits until `waitFor` has each. */
async function flood(
  room: string,
  o: { batches: number; size: number; chars: number; waitFor: Client[]; acking?: Client[] },
) {
  const text = "x".repeat(o.chars);
  for (let b = 0; b < o.batches; b++) {
    const res = await api(`/rooms/${encodeURIComponent(room)}/messages`, {
      method: "POST",
      json: {
        messages: Array.from({ length: o.size }, (_, i) => ({ message: `${b}.${i} ${text}` })),
      },
    });
    expect(res.status).toBe(201);
    const posted = ((await res.json()) as { ids: number[] }).ids;
    const last = posted[posted.length - 1]!;
    for (const c of o.waitFor) await c.until((x) => lastChatId(x) >= last, `id ${last}`, 20_000);
    for (const c of o.acking ?? []) c.send({ type: "ack", lastId: lastChatId(c) });
  }
}

function lastChatId(c: Client): number {
  const chats = c.chats();
  return chats.length === 0 ? 0 : (chats[chats.length - 1]!.id as number);
}

function ids(c: Client): number[] {
  return c.chats().map((f) => f.id as number);
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

describe("a member that acknowledges", () => {
  it("is closed with 4008 once too far behind, and resumes with since, missing nothing", async () => {
    const room = uniqueRoom();
    const reader = await connect(room, "name=reader&rich=1");
    const bare = await connect(room, "name=bare");
    const acker = await connect(room, "name=acker&rich=1");
    try {
      await reader.until((c) => presentNames(c).length === 3, "all three in the list");
      // Acknowledges once, then never again (a frozen tab).
      acker.send({ type: "ack", lastId: 0 });
      const total = MAX_LAG + 5;
      await flood(room, {
        batches: total,
        size: 1,
        chars: 20,
        waitFor: [reader, bare],
        acking: [reader],
      });
      await acker.untilClosed();
      expect(acker.closed?.code).toBe(4008);
      await reader.until((c) => !presentNames(c).includes("acker"), "acker gone from the list");
      expect(presentNames(reader)).toEqual(["bare", "reader"]);
      for (const c of [reader, bare]) expect(ids(c)).toEqual(range(1, total));

      const seen = lastChatId(acker);
      expect(ids(acker)).toEqual(range(1, seen));
      const resumed = await connect(room, `name=acker&rich=1&since=${seen}`);
      await resumed.untilChats(total - seen);
      expect(resumed.ofType("history_gap")).toEqual([]);
      expect(ids(resumed)).toEqual(range(seen + 1, total));
      resumed.close();
      expect(reader.ofType("error")).toEqual([]);
    } finally {
      closeAll([reader, acker, bare]);
    }
  });

  it("is never closed while it acknowledges what it reads", async () => {
    const room = uniqueRoom();
    const acker = await connect(room, "rich=1");
    try {
      acker.send({ type: "ack", lastId: 0 });
      await flood(room, { batches: 20, size: 10, chars: 1900, waitFor: [acker], acking: [acker] });
      expect(acker.closed).toBeNull();
      expect(ids(acker)).toEqual(range(1, 200));
      // Acks are not chat: nothing was refused and nothing was broadcast for them.
      expect(acker.ofType("error")).toEqual([]);
    } finally {
      acker.close();
    }
  }, 30_000);
});

describe("a member that never acknowledges", () => {
  it(`reads on through a busy stretch, and is closed with 4008 after ${NEVER_ACKED_FACTOR} MiB`, async () => {
    const room = uniqueRoom();
    const bare = await connect(room);
    // 1.2 MiB: still connected.
    await flood(room, { batches: 6, size: 100, chars: 1900, waitFor: [bare] });
    expect(bare.closed).toBeNull();
    // A second bare client joins now: it will be sent less than 8 MiB.
    const reader = await connect(room);
    try {
      // On to about 8.8 MiB for the first.
      await flood(room, { batches: 38, size: 100, chars: 1900, waitFor: [reader] });
      await bare.untilClosed();
      expect(bare.closed?.code).toBe(4008);
      const got = ids(bare);
      expect(got.length).toBeGreaterThan(4000);
      expect(got).toEqual(range(1, got.length));
      expect(ids(reader)).toEqual(range(601 - TEST_HISTORY_ON_JOIN, 4400));
      expect(reader.closed).toBeNull();
    } finally {
      closeAll([bare, reader]);
    }
  }, 120_000);
});

/** Stands in for a socket: the budget only reads bufferedAmount and uses it as a key. */
const fakeSocket = () => ({ bufferedAmount: 0 }) as unknown as WebSocket;

describe("the byte budget", () => {
  it("closes an acking member more than MAX_UNACKED_BYTES behind, however few the messages", () => {
    const slow = new SlowConsumers({ budget: BUDGET, maxLagMessages: 1000, roomBudget: 1e12 }, 0);
    const behind = fakeSocket();
    const keeping = fakeSocket();
    slow.joined(behind, 0);
    slow.joined(keeping, 0);
    slow.ack(behind, 0);
    for (let id = 1; id <= 10; id++) {
      slow.sent(id, 100_000);
      slow.ack(keeping, id);
    }
    expect(slow.overBudget(behind)).toBeNull(); // 1,000,000 characters: within 1 MiB
    slow.sent(11, 100_000);
    slow.ack(keeping, 11);
    expect(slow.overBudget(behind)).toBe("1100000 characters not acknowledged");
    expect(slow.overBudget(keeping)).toBeNull();
  });

  it("closes any member whose runtime buffer is over the budget", () => {
    const slow = new SlowConsumers({ budget: BUDGET, maxLagMessages: 1000, roomBudget: 1e12 }, 0);
    const stuck = { bufferedAmount: BUDGET + 1 } as unknown as WebSocket;
    slow.joined(stuck, 0);
    expect(slow.overBudget(stuck)).toBe(`${BUDGET + 1} bytes not yet sent`);
  });
});
