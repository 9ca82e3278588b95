/**
 * Retention: a room with no members and no new messages for ROOM_TTL (30
 * days by default) deletes its storage from its alarm; expired idempotency
 * keys and bans are purged on the way, and bans still in force are kept.
 * A room keeps no tables, keys or alarm until its first write. Time is moved
 * by back-dating what the room stored, then the alarm is run with
 * runDurableObjectAlarm.
 */
import { evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { mintJoinToken } from "../src/identity/join-token";
import { api, closeAll, connect, request, uniqueRoom, wsPath } from "./helpers";
import { TEST_JOIN_SECRET } from "./test-env";

const DAY = 24 * 60 * 60 * 1000;
const TTL = 30 * DAY;

function post(room: string, message: string, key?: string): Promise<Response> {
  return api(`/rooms/${encodeURIComponent(room)}/messages`, {
    method: "POST",
    headers: key ? { "Idempotency-Key": key } : {},
    json: { message },
  });
}

/** Moves the room's clock back: its messages and its last leave happened `ms` earlier. */
async function backdate(room: string, ms: number): Promise<void> {
  await runInDurableObject(env.CHAT_ROOM.getByName(room), async (_i, state) => {
    state.storage.sql.exec("UPDATE messages SET ts = ts - ?", ms);
    const emptied = await state.storage.get<number>("retention.emptiedAt");
    if (emptied !== undefined) await state.storage.put("retention.emptiedAt", emptied - ms);
  });
}

async function tables(room: string): Promise<string[]> {
  return runInDurableObject(env.CHAT_ROOM.getByName(room), (_i, state) =>
    state.storage.sql
      .exec<{ name: string }>(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '_cf_%'",
      )
      .toArray()
      .map((r) => r.name),
  );
}

async function alarmAt(room: string): Promise<number | null> {
  return runInDurableObject(env.CHAT_ROOM.getByName(room), (_i, state) => state.storage.getAlarm());
}

describe("a room nobody uses", () => {
  it("has an alarm from its first visit, no later than a day ahead", async () => {
    const room = uniqueRoom();
    const before = Date.now();
    await post(room, "hello");
    const at = await alarmAt(room);
    expect(at).not.toBeNull();
    expect(at!).toBeGreaterThan(before);
    expect(at!).toBeLessThanOrEqual(Date.now() + DAY);
  });

  it("deletes its storage and alarm once ROOM_TTL has passed since the last message and the last leave", async () => {
    const room = uniqueRoom();
    const member = await connect(room, "name=ann");
    member.send({ message: "hi" });
    await member.untilChats(1);
    member.close();
    await member.untilClosed();
    await backdate(room, TTL + 1000);

    expect(await runDurableObjectAlarm(env.CHAT_ROOM.getByName(room))).toBe(true);
    expect(await tables(room)).toEqual([]);
    expect(await alarmAt(room)).toBeNull();
    const size = await runInDurableObject(env.CHAT_ROOM.getByName(room), (_i, state) =>
      state.storage.kv.get("retention.emptiedAt"),
    );
    expect(size).toBeUndefined();
  });

  it("starts again empty for the next visitor, whose since is past the new last id", async () => {
    const room = uniqueRoom();
    await post(room, "old");
    await backdate(room, TTL + 1000);
    await runDurableObjectAlarm(env.CHAT_ROOM.getByName(room));

    const rich = await connect(room, "rich=1&since=1");
    try {
      await rich.untilType("history_reset");
      expect(rich.ofType("history_reset")[0]).toMatchObject({ since: 1, lastId: 0 });
      const res = await post(room, "new");
      expect(await res.json()).toMatchObject({ id: 1 });
      await rich.untilChats(1);
      expect(rich.chats()[0]).toMatchObject({ id: 1, message: "new" });
      expect(await alarmAt(room)).not.toBeNull();
    } finally {
      rich.close();
    }
  });
});

describe("a room in use", () => {
  it("is kept while a member is connected, however old its last message", async () => {
    const room = uniqueRoom();
    await post(room, "old");
    const member = await connect(room);
    try {
      await backdate(room, TTL * 2);
      await runDurableObjectAlarm(env.CHAT_ROOM.getByName(room));
      const res = await api(`/rooms/${encodeURIComponent(room)}/messages`);
      expect(((await res.json()) as { messages: unknown[] }).messages).toHaveLength(1);
      expect(await alarmAt(room)).not.toBeNull();
    } finally {
      member.close();
    }
  });

  it("is kept when its last message is younger than ROOM_TTL, and the alarm comes back by then", async () => {
    const room = uniqueRoom();
    await post(room, "recent");
    await backdate(room, TTL - DAY / 2);
    await runDurableObjectAlarm(env.CHAT_ROOM.getByName(room));
    expect(await tables(room)).toContain("messages");
    const at = await alarmAt(room);
    expect(at!).toBeLessThanOrEqual(Date.now() + DAY / 2 + 1000);
  });
});

describe("purging", () => {
  it("forgets idempotency keys older than a day and bans that ended", async () => {
    const room = uniqueRoom();
    expect((await post(room, "keyed", "key-1")).status).toBe(201);
    const stub = env.CHAT_ROOM.getByName(room);
    for (const [id, seconds] of [
      ["gone", 60],
      ["still", DAY / 1000],
    ] as const)
      await api(`/rooms/${encodeURIComponent(room)}/members/${id}?ban=${seconds}`, {
        method: "DELETE",
      });
    await runInDurableObject(stub, (_i, state) => {
      state.storage.sql.exec("UPDATE idempotency_keys SET created_at = created_at - ?", DAY + 1000);
      // The minute of the first ban passes.
      state.storage.sql.exec(
        "UPDATE member_bans SET until = ? WHERE member_id = 'gone'",
        Date.now() - 1000,
      );
    });
    await runDurableObjectAlarm(stub);
    const left = await runInDurableObject(stub, (_i, state) => ({
      keys: state.storage.sql.exec("SELECT key FROM idempotency_keys").toArray().length,
      bans: state.storage.sql
        .exec<{ member_id: string }>("SELECT member_id FROM member_bans")
        .toArray()
        .map((b) => b.member_id),
    }));
    expect(left).toEqual({ keys: 0, bans: ["still"] });
  });
});

describe("a room deleted by retention and used again", () => {
  it("starts a new epoch: a since from the old one gets history_reset, and the history API says reset", async () => {
    const room = uniqueRoom();
    const before = await connect(room, "rich=1");
    await before.untilType("welcome");
    const oldEpoch = before.ofType("welcome")[0]!.epoch as number;
    expect(Number.isSafeInteger(oldEpoch)).toBe(true);
    for (const m of ["old 1", "old 2", "old 3"]) await post(room, m);
    await before.untilChats(3);
    before.close();
    await before.untilClosed();
    const oldPage = (await (await api(`/rooms/${room}/messages`)).json()) as { epoch: number };
    expect(oldPage.epoch).toBe(oldEpoch);
    await backdate(room, TTL + 1000);
    await runDurableObjectAlarm(env.CHAT_ROOM.getByName(room));

    // The new room has as many messages as the reader had seen: by ids alone
    // a resume from 3 would look complete.
    for (const m of ["new 1", "new 2", "new 3", "new 4"]) await post(room, m);
    const resumed = await connect(room, `rich=1&since=3&epoch=${oldEpoch}`);
    const same = await connect(room, "rich=1");
    try {
      await resumed.untilType("history_reset");
      await same.untilType("welcome");
      const newEpoch = same.ofType("welcome")[0]!.epoch as number;
      expect(newEpoch).not.toBe(oldEpoch);
      expect(resumed.ofType("history_reset")[0]).toEqual({
        type: "history_reset",
        since: 3,
        lastId: 4,
      });
      const res = await api(`/rooms/${room}/messages?since=3&epoch=${oldEpoch}`);
      expect(await res.json()).toMatchObject({
        epoch: newEpoch,
        reset: true,
        lastId: 4,
        messages: [
          { id: 1, message: "new 1" },
          { id: 2, message: "new 2" },
          { id: 3, message: "new 3" },
          { id: 4, message: "new 4" },
        ],
      });
      // The current epoch resumes as always, without `reset`.
      const current = (await (
        await api(`/rooms/${room}/messages?since=3&epoch=${newEpoch}`)
      ).json()) as Record<string, unknown>;
      expect(current.reset).toBeUndefined();
      expect(current.messages).toEqual([expect.objectContaining({ id: 4 })]);
      const resumedNow = await connect(room, `rich=1&since=3&epoch=${newEpoch}`);
      await resumedNow.untilChats(1);
      expect(resumedNow.ofType("history_reset")).toEqual([]);
      resumedNow.close();
    } finally {
      resumed.close();
      same.close();
    }
  });

  it("keeps the epoch it welcomed members with before its first message, across a wake", async () => {
    const room = uniqueRoom();
    const early = await connect(room, "rich=1");
    await early.untilType("welcome");
    const promised = early.ofType("welcome")[0]!.epoch as number;
    expect(promised).toBeGreaterThan(0);
    // The room has no storage yet; waking it must not forget what it told.
    await evictDurableObject(env.CHAT_ROOM.getByName(room));
    await post(room, "first");
    await early.untilChats(1);
    const page = (await (await api(`/rooms/${room}/messages`)).json()) as { epoch: number };
    expect(page.epoch).toBe(promised);
    early.close();
    await post(room, "second");
    const back = await connect(room, `rich=1&since=1&epoch=${promised}`);
    try {
      await back.untilChats(1);
      expect(back.ofType("history_reset")).toEqual([]);
      expect(back.ofType("chat").map((m) => m.message)).toEqual(["second"]);
    } finally {
      back.close();
    }
  });

  it("refuses an epoch that is not a whole number", async () => {
    const room = uniqueRoom();
    const res = await api(`/rooms/${room}/messages?since=3&epoch=abc`);
    expect(res.status).toBe(400);
  });
});

/** Everything a room keeps: its tables, its key-value keys and its alarm. */
async function footprint(room: string) {
  return runInDurableObject(env.CHAT_ROOM.getByName(room), async (_i, state) => ({
    tables: state.storage.sql
      .exec<{ name: string }>(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '\\_cf\\_%' ESCAPE '\\'",
      )
      .toArray()
      .map((r) => r.name),
    keys: [...(await state.storage.list()).keys()],
    alarm: await state.storage.getAlarm(),
  }));
}

describe("a room costs nothing until it is used", () => {
  it("keeps no table, key or alarm after guests and members joined, read and left", async () => {
    const room = uniqueRoom();
    const guest = await connect(room, "rich=1&name=ann&since=0");
    const keyed = await connect(room, `rich=1&guest=${"k".repeat(20)}`);
    await guest.untilType("welcome");
    // Every read a stranger or a script can make of an empty room.
    const history = await api(`/rooms/${encodeURIComponent(room)}/messages?since=0`);
    // Nobody was promised an epoch over HTTP, so none is made up (docs/http-api.md).
    expect(await history.json()).toMatchObject({ messages: [], lastId: 0, oldestId: null });
    const stats = await api(`/rooms/${encodeURIComponent(room)}`);
    expect(await stats.json()).toMatchObject({ members: 2, lastId: 0 });
    guest.send({ type: "members" });
    await guest.untilType("members");
    guest.close();
    keyed.close();
    await guest.untilClosed();
    await keyed.untilClosed();
    expect(await footprint(room)).toEqual({ tables: [], keys: [], alarm: null });
  });

  it("answers a joiner of an empty room with an empty history, and its since with a reset", async () => {
    const room = uniqueRoom();
    const fresh = await connect(room, "rich=1");
    const resuming = await connect(room, "rich=1&since=3");
    try {
      await fresh.untilType("welcome");
      expect(fresh.ofType("welcome")[0]).toMatchObject({ lastId: 0, history: 0 });
      await resuming.untilType("history_reset");
      expect(resuming.ofType("history_reset")[0]).toMatchObject({ since: 3, lastId: 0 });
    } finally {
      closeAll([fresh, resuming]);
    }
    expect((await footprint(room)).tables).toEqual([]);
  });

  it("creates its tables and alarm with the first message, from a socket or the API", async () => {
    const socketRoom = uniqueRoom();
    const member = await connect(socketRoom, "name=ann");
    member.send({ message: "first" });
    await member.untilChats(1);
    member.close();
    await member.untilClosed();
    const bySocket = await footprint(socketRoom);
    expect(bySocket.tables).toContain("messages");
    expect(bySocket.alarm).not.toBeNull();
    // Its quiet time starts when the last member leaves.
    expect(bySocket.keys).toEqual(["retention.emptiedAt"]);

    const apiRoom = uniqueRoom();
    expect((await post(apiRoom, "first")).status).toBe(201);
    const byApi = await footprint(apiRoom);
    expect(byApi.tables).toContain("messages");
    expect(byApi.alarm).not.toBeNull();
  });

  it("creates the ban table and the alarm with the first ban, and nothing else", async () => {
    const room = uniqueRoom();
    const res = await api(`/rooms/${encodeURIComponent(room)}/members/u-1?ban=60`, {
      method: "DELETE",
    });
    expect(res.status).toBe(200);
    const after = await footprint(room);
    expect(after.tables).toEqual(["member_bans"]);
    expect(after.alarm).not.toBeNull();
  });
});

describe("a room visited before rooms were free", () => {
  it("clears an alarm and a quiet-time key left on a room that never had a table", async () => {
    const room = uniqueRoom();
    // What the earlier version left on every visited room: an alarm, and the time its last member left.
    await runInDurableObject(env.CHAT_ROOM.getByName(room), async (_i, state) => {
      await state.storage.put("retention.emptiedAt", Date.now() - DAY);
      await state.storage.setAlarm(Date.now() + DAY);
    });
    await runDurableObjectAlarm(env.CHAT_ROOM.getByName(room));
    expect(await footprint(room)).toEqual({ tables: [], keys: [], alarm: null });
  });
});

describe("bans outlive retention", () => {
  it("keeps bans still in force when a quiet room is deleted, and keeps the banned member out", async () => {
    const room = uniqueRoom();
    await post(room, "old");
    const ban = await api(`/rooms/${encodeURIComponent(room)}/members/spammer?ban=${365 * 86400}`, {
      method: "DELETE",
    });
    expect(ban.status).toBe(200);
    const { bannedUntil } = (await ban.json()) as { bannedUntil: string };
    await backdate(room, TTL + 1000);
    expect(await runDurableObjectAlarm(env.CHAT_ROOM.getByName(room))).toBe(true);

    const after = await footprint(room);
    // The messages are gone; the ban and an alarm for its end are not.
    expect(after.tables).toEqual(["member_bans"]);
    expect(after.alarm).toBe(Date.parse(bannedUntil));
    const history = await api(`/rooms/${encodeURIComponent(room)}/messages?since=0`);
    expect(await history.json()).toMatchObject({ messages: [], lastId: 0 });
    const token = await mintJoinToken(TEST_JOIN_SECRET, { sub: "spammer", room }, 600);
    const refused = await request(wsPath(room, `token=${token.token}`), {
      headers: { Upgrade: "websocket" },
    });
    expect(refused.status).toBe(403);
  });

  it("deletes what is left once the last ban has ended", async () => {
    const room = uniqueRoom();
    await post(room, "old");
    await api(`/rooms/${encodeURIComponent(room)}/members/spammer?ban=3600`, { method: "DELETE" });
    await backdate(room, TTL + 1000);
    await runDurableObjectAlarm(env.CHAT_ROOM.getByName(room));
    expect((await footprint(room)).tables).toEqual(["member_bans"]);
    // The hour passes.
    await runInDurableObject(env.CHAT_ROOM.getByName(room), (_i, state) => {
      state.storage.sql.exec("UPDATE member_bans SET until = until - ?", 3600_000 + 1000);
    });
    await runDurableObjectAlarm(env.CHAT_ROOM.getByName(room));
    expect(await footprint(room)).toEqual({ tables: [], keys: [], alarm: null });
  });
});
