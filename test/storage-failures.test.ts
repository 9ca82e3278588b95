/**
 * Storage that fails (docs/deploy.md "Operations"): a join whose history or
 * ban read throws is refused whole, leaving no member behind that nobody can
 * see or remove; each part of the room's alarm (webhooks, idempotency keys,
 * bans, retention) fails alone, and the alarm is always set again. Failures
 * are injected by replacing a storage method inside the object
 * (runInDurableObject), and put back after.
 */
import { evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { mintJoinToken } from "../src/identity/join-token";
import { api, connect, failSql, request, uniqueRoom, wsPath, RELAYS } from "./helpers";
import { TEST_JOIN_SECRET } from "./test-env";

const DAY = 24 * 60 * 60 * 1000;

async function roomState(room: string) {
  const stats = (await (await api(`/rooms/${encodeURIComponent(room)}`)).json()) as {
    members: number;
    relays?: { sockets: number }[];
  };
  // With relays the sockets are theirs, as the stats report them.
  const sockets = RELAYS
    ? (stats.relays ?? []).reduce((sum, r) => sum + r.sockets, 0)
    : await runInDurableObject(
        env.CHAT_ROOM.getByName(room),
        (_i, state) => state.getWebSockets().length,
      );
  return { members: stats.members, sockets };
}

async function alarmAt(room: string): Promise<number | null> {
  return runInDurableObject(env.CHAT_ROOM.getByName(room), (_i, state) => state.storage.getAlarm());
}

describe("a join whose storage read fails", () => {
  it("is refused when the history cannot be read, and leaves no member behind", async () => {
    const room = uniqueRoom();
    await api(`/rooms/${encodeURIComponent(room)}/messages`, {
      method: "POST",
      json: { message: "before" },
    });
    // A fresh object, so the history is read from storage, not from memory.
    await evictDurableObject(env.CHAT_ROOM.getByName(room));
    const restore = await failSql(room, "FROM messages WHERE id >");
    try {
      const res = await request(wsPath(room, "rich=1&name=ghost"), {
        headers: { Upgrade: "websocket" },
      });
      expect(res.status).toBe(500);
      expect(await roomState(room)).toEqual({ members: 0, sockets: 0 });
    } finally {
      await restore();
    }
    // Once storage answers again, the same join works.
    const member = await connect(room, "rich=1&name=ghost");
    await member.untilChats(1);
    expect(await roomState(room)).toEqual({ members: 1, sockets: 1 });
    member.close();
  });

  it("is refused when the bans cannot be read, and leaves no member behind", async () => {
    const room = uniqueRoom();
    await api(`/rooms/${encodeURIComponent(room)}/members/other?ban=60`, { method: "DELETE" });
    const restore = await failSql(room, "member_bans");
    try {
      const { token } = await mintJoinToken(TEST_JOIN_SECRET, { sub: "u-1", room }, 600);
      const res = await request(wsPath(room, `token=${token}`), {
        headers: { Upgrade: "websocket" },
      });
      expect(res.status).toBe(500);
      expect(await roomState(room)).toEqual({ members: 0, sockets: 0 });
    } finally {
      await restore();
    }
  });
});

/** A room with a message, a remembered answer, and a ban that has ended. */
async function busyRoom(): Promise<string> {
  const room = uniqueRoom();
  await api(`/rooms/${encodeURIComponent(room)}/messages`, {
    method: "POST",
    headers: { "Idempotency-Key": "k-1" },
    json: { message: "hi" },
  });
  await api(`/rooms/${encodeURIComponent(room)}/members/gone?ban=60`, { method: "DELETE" });
  await runInDurableObject(env.CHAT_ROOM.getByName(room), (_i, state) => {
    state.storage.sql.exec("UPDATE member_bans SET until = ?", Date.now() - 1000);
    state.storage.sql.exec("UPDATE idempotency_keys SET created_at = created_at - ?", DAY + 1000);
  });
  return room;
}

async function counts(room: string) {
  return runInDurableObject(env.CHAT_ROOM.getByName(room), (_i, state) => ({
    keys: state.storage.sql.exec("SELECT key FROM idempotency_keys").toArray().length,
    bans: state.storage.sql.exec("SELECT member_id FROM member_bans").toArray().length,
  }));
}

describe("the alarm", () => {
  it("still purges bans and is set again when purging idempotency keys fails", async () => {
    const room = await busyRoom();
    const restore = await failSql(room, "DELETE FROM idempotency_keys");
    const before = Date.now();
    try {
      expect(await runDurableObjectAlarm(env.CHAT_ROOM.getByName(room))).toBe(true);
    } finally {
      await restore();
    }
    expect(await counts(room)).toEqual({ keys: 1, bans: 0 });
    // Back within minutes to try the failed part again, not a day later.
    const at = await alarmAt(room);
    expect(at).not.toBeNull();
    expect(at!).toBeGreaterThan(before);
    expect(at!).toBeLessThanOrEqual(Date.now() + 5 * 60 * 1000);
  });

  it("still purges keys and is set again when purging bans fails", async () => {
    const room = await busyRoom();
    const restore = await failSql(room, "DELETE FROM member_bans");
    try {
      await runDurableObjectAlarm(env.CHAT_ROOM.getByName(room));
    } finally {
      await restore();
    }
    expect(await counts(room)).toEqual({ keys: 0, bans: 1 });
    expect(await alarmAt(room)).not.toBeNull();
  });

  it("still purges and is set again when the retention check fails", async () => {
    const room = await busyRoom();
    const restore = await failSql(room, "SELECT ts FROM messages");
    try {
      await runDurableObjectAlarm(env.CHAT_ROOM.getByName(room));
    } finally {
      await restore();
    }
    expect(await counts(room)).toEqual({ keys: 0, bans: 0 });
    expect(await alarmAt(room)).not.toBeNull();
  });
});
