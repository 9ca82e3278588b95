/**
 * What the room does when something fails half-way: a socket that cannot be
 * sent to, a batch whose storage fails part-way, a client whose `since` is
 * past everything the room has (its storage was reset).
 */
import { evictDurableObject, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { api, closeAll, connect, presentCount, presentNames, uniqueRoom, RELAYS } from "./helpers";

function socketNamed(state: DurableObjectState, name: string): WebSocket {
  const ws = state
    .getWebSockets()
    .find((s) => (s.deserializeAttachment() as { name: string }).name === name);
  if (!ws) throw new Error(`no socket named ${name}`);
  return ws;
}

function postBatch(room: string, messages: string[], key: string): Promise<Response> {
  return api(`/rooms/${encodeURIComponent(room)}/messages`, {
    method: "POST",
    headers: { "Idempotency-Key": key },
    json: { messages: messages.map((message) => ({ message })) },
  });
}

async function storedTexts(room: string): Promise<string[]> {
  const res = await api(`/rooms/${encodeURIComponent(room)}/messages?limit=30`);
  const body = (await res.json()) as { messages: { message: string }[] };
  return body.messages.map((m) => m.message);
}

describe("a socket whose send throws", () => {
  // Reaches into the room object's own sockets: not there with relays.
  it.skipIf(RELAYS)("is closed with 1011 and stays gone after the object wakes again", async () => {
    const room = uniqueRoom();
    const stub = env.CHAT_ROOM.getByName(room);
    const watcher = await connect(room, "name=watcher&rich=1");
    const broken = await connect(room, "name=broken");
    try {
      await watcher.until((c) => presentCount(c) === 2, "broken in the list");
      await runInDurableObject(stub, (_instance, state) => {
        socketNamed(state, "broken").send = () => {
          throw new Error("send failed");
        };
      });
      const res = await api(`/rooms/${encodeURIComponent(room)}/messages`, {
        method: "POST",
        json: { message: "hello" },
      });
      expect(res.status).toBe(201);
      await watcher.untilChats(1);
      await broken.untilClosed();
      expect(broken.closed?.code).toBe(1011);
      await watcher.until((c) => presentCount(c) === 1, "broken gone from the list");
      expect(presentNames(watcher)).toEqual(["watcher"]);

      // A socket only forgotten (not closed) would be re-added by the constructor.
      await evictDurableObject(stub);
      const stats = (await (await api(`/rooms/${encodeURIComponent(room)}`)).json()) as {
        names: string[];
      };
      expect(stats.names).toEqual(["watcher"]);
    } finally {
      closeAll([watcher, broken]);
    }
  });
});

describe("a batch whose storage fails part-way", () => {
  it("stores and sends none of it, and the retry stores each message once", async () => {
    const room = uniqueRoom();
    const stub = env.CHAT_ROOM.getByName(room);
    const reader = await connect(room);
    try {
      expect((await postBatch(room, ["before"], crypto.randomUUID())).status).toBe(201);
      await reader.untilChats(1);
      // The third insert of the next batch fails, as a full disk would.
      await runInDurableObject(stub, (_instance, state) => {
        const sql = state.storage.sql;
        const exec = sql.exec.bind(sql);
        let inserts = 0;
        sql.exec = ((query: string, ...bindings: unknown[]) => {
          if (query.startsWith("INSERT INTO messages") && ++inserts === 3) {
            sql.exec = exec;
            throw new Error("disk full");
          }
          return exec(query, ...bindings);
        }) as typeof sql.exec;
      });
      const key = crypto.randomUUID();
      const batch = ["one", "two", "three", "four"];
      expect((await postBatch(room, batch, key)).status).toBe(500);
      expect(await storedTexts(room)).toEqual(["before"]);
      await reader.quiet();
      expect(reader.chats().map((f) => f.message)).toEqual(["before"]);

      const retry = await postBatch(room, batch, key);
      expect(retry.status).toBe(201);
      expect(await retry.json()).toMatchObject({ ids: [2, 3, 4, 5] });
      expect(await storedTexts(room)).toEqual(["before", ...batch]);
      await reader.untilChats(5);
      expect(reader.chats().map((f) => f.id)).toEqual([1, 2, 3, 4, 5]);
    } finally {
      reader.close();
    }
  });
});

describe("since past the room's last id", () => {
  it("tells a rich client its ids restart, and the next message still reaches it", async () => {
    const room = uniqueRoom();
    const rich = await connect(room, "rich=1&since=500");
    const bare = await connect(room, "since=500");
    try {
      await rich.untilType("history_reset");
      expect(rich.frames.slice(0, 2).map((f) => f.type)).toEqual(["welcome", "history_reset"]);
      expect(rich.ofType("history_reset")[0]).toEqual({
        type: "history_reset",
        since: 500,
        lastId: 0,
      });
      const res = await api(`/rooms/${encodeURIComponent(room)}/messages`, {
        method: "POST",
        json: { message: "first after the reset" },
      });
      expect(await res.json()).toMatchObject({ id: 1 });
      await rich.untilChats(1);
      await bare.untilChats(1);
      // The bare client gets only chat frames, as always.
      expect(bare.frames).toEqual([expect.objectContaining({ type: "chat", id: 1 })]);
    } finally {
      closeAll([rich, bare]);
    }
  });
});
