/**
 * Everything the room sends a member counts against one budget, and answers
 * to a socket's own frames (errors, receipts) are rate limited per socket:
 * a socket that floods bad frames or receipt requests gets a bounded number
 * of answers, and everyone else keeps chatting (docs/protocol.md, "Members
 * that fall behind").
 */
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { NEVER_ACKED_FACTOR, SlowConsumers } from "../src/room/slow-consumers";
import { answersPerWindow } from "../src/room/answer-limits";
import { api, closeAll, connect, uniqueRoom } from "./helpers";

/** RATE_LIMIT_MESSAGES in the test Worker is wrangler.toml's 20; the documented allowance is 5 times it. */
const ANSWERS = 5 * 20;
const FLOOD = 3000;

describe("answers to a socket's own frames", () => {
  it(`answers at most ${ANSWERS} receipt requests per window, plus one notice, and stores nothing`, async () => {
    const room = uniqueRoom();
    const author = await connect(room, "name=author");
    const flooder = await connect(room, "name=flooder");
    const other = await connect(room, "name=other");
    try {
      author.send({ message: "y".repeat(2000), clientId: "long-one" });
      await flooder.untilChats(1);
      for (let i = 0; i < FLOOD; i++) flooder.send({ message: "x", clientId: "long-one" });
      other.send({ message: "still here" });
      await other.until((c) => c.chats().some((f) => f.message === "still here"), "own message");
      await flooder.until(
        (c) => c.chats().some((f) => f.message === "still here"),
        "the other member's message",
        20_000,
      );
      await flooder.quiet(300);
      const receipts = flooder.chats().filter((f) => f.clientId === "long-one").length - 1;
      expect(receipts).toBeLessThanOrEqual(ANSWERS);
      expect(flooder.ofType("error").map((e) => e.code)).toEqual(["rate_limited"]);
      const res = await api(`/rooms/${room}/messages`);
      const body = (await res.json()) as { messages: { message: string }[] };
      expect(body.messages.map((m) => m.message.slice(0, 10))).toEqual([
        "y".repeat(10),
        "still here",
      ]);
    } finally {
      closeAll([author, flooder, other]);
    }
  }, 30_000);

  it(`answers at most ${ANSWERS} bad frames per window, plus one notice`, async () => {
    const room = uniqueRoom();
    const flooder = await connect(room);
    const other = await connect(room);
    try {
      for (let i = 0; i < FLOOD; i++) flooder.send("not json");
      other.send({ message: "after the flood" });
      await flooder.until(
        (c) => c.chats().some((f) => f.message === "after the flood"),
        "the other member's message",
        20_000,
      );
      await flooder.quiet(300);
      const errors = flooder.ofType("error");
      expect(errors.length).toBeLessThanOrEqual(ANSWERS + 1);
      expect(errors.filter((e) => e.code === "bad_json").length).toBe(ANSWERS);
      expect(errors.at(-1)).toMatchObject({ code: "rate_limited" });
      expect(flooder.closed).toBeNull();
    } finally {
      closeAll([flooder, other]);
    }
  }, 30_000);

  it("has the documented allowance", () => {
    expect(answersPerWindow(20)).toBe(ANSWERS);
  });
});

/** Stands in for a socket: the budget only reads bufferedAmount and uses it as a key. */
const fakeSocket = () => ({ bufferedAmount: 0 }) as unknown as WebSocket;
const BUDGET = 10_000;

describe("one budget for everything sent to a member", () => {
  it("counts answers and other frames sent to one member, and closes a never-acking one past its limit", () => {
    const slow = new SlowConsumers({ budget: BUDGET, maxLagMessages: 1000, roomBudget: 1e9 }, 0);
    const ws = fakeSocket();
    slow.joined(ws, 0);
    for (let i = 0; i < NEVER_ACKED_FACTOR * 5; i++) slow.own(ws, 2000);
    expect(slow.overBudget(ws)).toBeNull();
    slow.own(ws, 2000);
    expect(slow.overBudget(ws)).toBe(
      `${NEVER_ACKED_FACTOR * BUDGET + 2000} characters sent, none acknowledged`,
    );
  });

  it("clears what a member acknowledged, answers included", () => {
    const slow = new SlowConsumers({ budget: BUDGET, maxLagMessages: 1000, roomBudget: 1e9 }, 0);
    const ws = fakeSocket();
    slow.joined(ws, 0);
    slow.ack(ws, 0);
    slow.sent(1, 6000);
    slow.own(ws, 3000);
    expect(slow.overBudget(ws)).toBeNull();
    slow.own(ws, 3000);
    expect(slow.overBudget(ws)).toBe("12000 characters not acknowledged");
    slow.ack(ws, 1);
    expect(slow.overBudget(ws)).toBeNull();
    expect(slow.held(ws)).toBe(0);
  });

  it("never closes a joiner for its history alone, and counts it until it is acknowledged", () => {
    const slow = new SlowConsumers({ budget: BUDGET, maxLagMessages: 1000, roomBudget: 1e9 }, 40);
    const ws = fakeSocket();
    // A resume bigger than the whole budget.
    slow.joined(ws, 5 * BUDGET);
    slow.ack(ws, 20);
    expect(slow.held(ws)).toBe(5 * BUDGET);
    expect(slow.overBudget(ws)).toBeNull();
    slow.sent(41, BUDGET);
    expect(slow.overBudget(ws)).toBeNull();
    slow.sent(42, 1);
    expect(slow.overBudget(ws)).toBe(`${6 * BUDGET + 1} characters not acknowledged`);
    slow.ack(ws, 42);
    expect(slow.held(ws)).toBe(0);
    expect(slow.overBudget(ws)).toBeNull();
  });

  it("keeps a room-wide total and names the members holding the most", () => {
    const slow = new SlowConsumers({ budget: BUDGET, maxLagMessages: 1000, roomBudget: 25_000 }, 0);
    const [a, b, c] = [fakeSocket(), fakeSocket(), fakeSocket()];
    for (const ws of [a, b, c]) {
      slow.joined(ws, 0);
      slow.ack(ws, 0);
    }
    slow.sent(1, 8000);
    slow.ack(c, 1);
    slow.own(b, 1000);
    expect(slow.roomHeld).toBe(17_000);
    expect(slow.roomOver()).toBe(false);
    slow.own(a, 9000);
    expect(slow.roomHeld).toBe(26_000);
    expect(slow.roomOver()).toBe(true);
    slow.left(a);
    expect(slow.roomHeld).toBe(9000);
    expect(slow.roomOver()).toBe(false);
  });

  it("leaves a plain join's history out of the room's total until the member acks", () => {
    const slow = new SlowConsumers({ budget: BUDGET, maxLagMessages: 1000, roomBudget: 1e9 }, 0);
    const [plain, resume] = [fakeSocket(), fakeSocket()];
    slow.joined(plain, 5000, true);
    slow.joined(resume, 7000, false);
    expect(slow.roomHeld).toBe(7000);
    expect(slow.held(plain)).toBe(0);
    slow.own(plain, 100);
    expect(slow.roomHeld).toBe(7100);
    // Acking makes it one that is held to what it has not acknowledged.
    slow.ack(plain, 0);
    expect(slow.roomHeld).toBe(7000);
    slow.left(resume);
    expect(slow.roomHeld).toBe(0);
  });
});

async function post(room: string, message: string): Promise<void> {
  const res = await api(`/rooms/${encodeURIComponent(room)}/messages`, {
    method: "POST",
    json: { message },
  });
  expect(res.status).toBe(201);
}

describe("a room deleted by retention", () => {
  it("holds a member that acks to the new ids, not the deleted room's: one that stops acking is closed", async () => {
    const room = uniqueRoom();
    for (let i = 1; i <= 40; i++) await post(room, `old ${i}`);
    await runInDurableObject(env.CHAT_ROOM.getByName(room), async (_i, state) => {
      state.storage.sql.exec("UPDATE messages SET ts = ts - ?", 31 * 24 * 3600 * 1000);
    });
    expect(await runDurableObjectAlarm(env.CHAT_ROOM.getByName(room))).toBe(true);

    const frozen = await connect(room, "rich=1");
    try {
      await frozen.untilType("welcome");
      // Acknowledges once, then never again (a frozen tab).
      frozen.send({ type: "ack", lastId: 0 });
      // Half of HISTORY_LIMIT (30) is 15 messages: 20 is past it.
      for (let i = 1; i <= 20 && frozen.closed === null; i++) {
        await post(room, `new ${i}`);
        await frozen.until((c) => c.chats().length >= i || c.closed !== null, `new ${i}`);
      }
      await frozen.untilClosed();
      expect(frozen.closed?.code).toBe(4008);
    } finally {
      frozen.close();
    }
  });
});
