/**
 * Faults a room must survive without anyone noticing more than they should:
 * connections that vanish without a close frame, socket errors, keep-alives,
 * a member that never reads, the object evicted in the middle of a stream of
 * messages, and a thousand people joining at once.
 *
 * Every assertion is about what a user sees (frames, statuses, the member
 * list), reached with explicit waits; `quiet()` is only used to check that
 * something did NOT arrive.
 */
import { evictDurableObject, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { ChatRoom } from "../src/room/chat-room";
import {
  api,
  Client,
  closeAll,
  connect,
  presentCount,
  presentNames,
  request,
  TEST_TOKEN,
  uniqueRoom,
  wsPath,
  type Frame,
  RELAYS,
} from "./helpers";
import { TEST_HISTORY_LIMIT } from "./test-env";

/**
 * API calls from a fresh client address each time: the API is rate-limited per
 * address, and these tests are about faults, not about that limit.
 */
function fromAnywhere(): Record<string, string> {
  const address = `10.${Array.from(crypto.getRandomValues(new Uint8Array(3))).join(".")}`;
  return { Authorization: `Bearer ${TEST_TOKEN}`, "CF-Connecting-IP": address };
}

function inject(room: string, message: string): Promise<Response> {
  return api(`/rooms/${encodeURIComponent(room)}/messages`, {
    method: "POST",
    headers: fromAnywhere(),
    json: { message },
  });
}

interface Stats {
  room: string;
  members: number;
  names: string[];
  lastId: number;
}

async function stats(room: string): Promise<Stats> {
  const res = await api(`/rooms/${encodeURIComponent(room)}`, { headers: fromAnywhere() });
  expect(res.status).toBe(200);
  return (await res.json()) as Stats;
}

/** Polls the stats API until `predicate` holds: an explicit wait, not a sleep. */
async function untilStats(
  room: string,
  predicate: (s: Stats) => boolean,
  what: string,
  ms = 5000,
): Promise<Stats> {
  const deadline = Date.now() + ms;
  for (;;) {
    const s = await stats(room);
    if (predicate(s)) return s;
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}; last ${JSON.stringify(s)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Polls `predicate` until it holds: an explicit wait for state spread over several clients. */
async function waitFor(predicate: () => boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function chatIds(c: Client): number[] {
  return c.chats().map((f) => f.id as number);
}

function range(from: number, to: number): number[] {
  return Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => from + i);
}

/** The attachment's display name of each accepted socket, found inside the object. */
function socketNamed(state: DurableObjectState, name: string): WebSocket {
  const ws = state
    .getWebSockets()
    .find((w) => (w.deserializeAttachment() as { name?: string } | null)?.name === name);
  if (!ws) throw new Error(`no socket named ${name}`);
  return ws;
}

/**
 * A client that records frames verbatim, for the keep-alive tests: the
 * runtime's "pong" is not JSON, which the shared Client would choke on.
 */
class RawClient {
  readonly raw: string[] = [];
  #waiters: (() => void)[] = [];

  constructor(readonly ws: WebSocket) {
    ws.addEventListener("message", (event) => {
      this.raw.push(typeof event.data === "string" ? event.data : "<binary>");
      for (const w of this.#waiters.splice(0)) w();
    });
    ws.accept();
  }

  json(): Frame[] {
    return this.raw.filter((r) => r.startsWith("{")).map((r) => JSON.parse(r) as Frame);
  }

  async until(predicate: () => boolean, what: string, ms = 5000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!predicate()) {
      const left = deadline - Date.now();
      if (left <= 0)
        throw new Error(`timed out waiting for ${what}; got ${JSON.stringify(this.raw)}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }
}

async function connectRaw(room: string, query = ""): Promise<RawClient> {
  const res = await request(wsPath(room, query), { headers: { Upgrade: "websocket" } });
  expect(res.status).toBe(101);
  return new RawClient(res.webSocket!);
}

describe("abrupt disconnects", () => {
  // Reaches into the room object's own sockets: not there with relays.
  it.skipIf(RELAYS)(
    "when every socket drops without a close frame, the room forgets them and since= recovers what they missed",
    async () => {
      const room = uniqueRoom();
      const stub = env.CHAT_ROOM.getByName(room);
      const alice = await connect(room, "name=alice");
      const bob = await connect(room, "name=bob");
      try {
        alice.send({ message: "before the drop" });
        await bob.untilChats(1);

        // The runtime tears the connections down: no close frame reaches either side.
        await evictDurableObject(stub, { webSockets: "close" });
        await Promise.all([alice.untilClosed(), bob.untilClosed()]);
        expect(alice.closed!.code).toBe(1006);
        expect(alice.closed!.wasClean).toBe(false);

        // No ghosts: the member list is empty and a newcomer is told it is alone.
        expect(await stats(room)).toMatchObject({ members: 0, names: [], lastId: 1 });
        const newcomer = await connect(room, "name=carol&rich=1");
        await newcomer.untilType("welcome");
        expect(newcomer.ofType("welcome")[0]!.members.map((m: Frame) => m.name)).toEqual(["carol"]);

        await inject(room, "while alice was away");
        newcomer.send({ message: "hello?" });
        await newcomer.untilChats(3);

        const back = await connect(room, `name=alice&since=${chatIds(alice).at(-1)}`);
        await back.untilChats(2);
        await back.quiet();
        expect(back.chats().map((f) => [f.id, f.message])).toEqual([
          [2, "while alice was away"],
          [3, "hello?"],
        ]);
        closeAll([newcomer, back]);
      } finally {
        closeAll([alice, bob]);
      }
    },
  );

  // Reaches into the room object's own sockets: not there with relays.
  it.skipIf(RELAYS)(
    "one member vanishing without a close frame (1006) is dropped; the others get a leave and keep chatting",
    async () => {
      const room = uniqueRoom();
      const stub = env.CHAT_ROOM.getByName(room);
      const watcher = await connect(room, "name=watcher&rich=1");
      const ghost = await connect(room, "name=ghost");
      const other = await connect(room, "name=other");
      try {
        await watcher.until((c) => presentCount(c) === 3, "ghost and other in the list");
        // What the runtime delivers when the TCP connection dies under a client.
        await runInDurableObject(stub, (instance: ChatRoom, state) => {
          instance.webSocketClose(
            socketNamed(state, "ghost"),
            1006,
            "WebSocket disconnected without sending Close frame.",
          );
        });
        await watcher.until((c) => presentCount(c) === 2, "the ghost gone from the list");
        expect(presentNames(watcher)).toEqual(["other", "watcher"]);
        expect((await stats(room)).names.toSorted()).toEqual(["other", "watcher"]);

        other.send({ message: "still here" });
        await watcher.untilChats(1);
        // Hibernation rebuilds the member list from the runtime's sockets: still no ghost.
        await evictDurableObject(stub);
        expect((await stats(room)).names.toSorted()).toEqual(["other", "watcher"]);
        const res = await inject(room, "after eviction");
        expect(await res.json()).toEqual({ id: 2, delivered: 2 });
        await Promise.all([watcher.untilChats(2), other.untilChats(2)]);
      } finally {
        closeAll([watcher, ghost, other]);
      }
    },
  );

  it("a close without a status code (1005) is answered with a clean close and a leave", async () => {
    const room = uniqueRoom();
    const watcher = await connect(room, "rich=1");
    const leaver = await connect(room, "name=leaver");
    try {
      await watcher.until((c) => presentCount(c) === 2, "the leaver in the list");
      leaver.ws.close();
      await leaver.untilClosed();
      expect(leaver.closed!.code).toBe(1000);
      await watcher.until((c) => presentCount(c) === 1, "the leaver gone from the list");
      expect((await stats(room)).members).toBe(1);
    } finally {
      closeAll([watcher, leaver]);
    }
  });
});

describe("webSocketError", () => {
  // Reaches into the room object's own sockets: not there with relays.
  it.skipIf(RELAYS)(
    "drops the failed member, tells the others, and leaves the room working",
    async () => {
      const room = uniqueRoom();
      const stub = env.CHAT_ROOM.getByName(room);
      const watcher = await connect(room, "name=watcher&rich=1");
      const failing = await connect(room, "name=failing");
      try {
        await watcher.until((c) => presentCount(c) === 2, "failing in the list");
        // The runtime calls webSocketError for a socket that failed with something
        // other than a disconnect, then drops that socket itself.
        await runInDurableObject(stub, (instance: ChatRoom, state) => {
          instance.webSocketError(socketNamed(state, "failing"));
        });
        await watcher.until((c) => presentCount(c) === 1, "failing gone from the list");
        expect(presentNames(watcher)).toEqual(["watcher"]);
        expect((await stats(room)).names).toEqual(["watcher"]);

        const res = await inject(room, "room still works");
        expect(await res.json()).toEqual({ id: 1, delivered: 1 });
        await watcher.untilChats(1);
        await failing.quiet();
        expect(failing.chats()).toEqual([]);
      } finally {
        closeAll([watcher, failing]);
      }
    },
  );
});

describe("keep-alive", () => {
  // Reaches into the room object's own sockets: not there with relays.
  it.skipIf(RELAYS)(
    'answers the text "ping" with "pong" from the runtime, broadcasting nothing, even while the object is evicted',
    async () => {
      const room = uniqueRoom();
      const stub = env.CHAT_ROOM.getByName(room);
      const observer = await connect(room, "rich=1");
      const pinger = await connectRaw(room);
      try {
        await observer.until((c) => presentCount(c) === 2, "the pinger in the list");
        pinger.ws.send("ping");
        await pinger.until(() => pinger.raw.length >= 1, "pong");
        expect(pinger.raw).toEqual(["pong"]);

        // With the object out of memory the answer still comes, from the runtime:
        // keep-alives don't wake a room.
        await evictDurableObject(stub);
        pinger.ws.send("ping");
        await pinger.until(() => pinger.raw.length >= 2, "second pong");
        expect(pinger.raw).toEqual(["pong", "pong"]);
        const answered = await runInDurableObject(stub, (_instance, state) =>
          state.getWebSockets().map((ws) => state.getWebSocketAutoResponseTimestamp(ws)),
        );
        expect(answered.filter((t) => t !== null)).toHaveLength(1);

        await observer.quiet();
        expect(observer.frames.filter((f) => !["welcome", "presence"].includes(f.type))).toEqual(
          [],
        );
        expect((await stats(room)).lastId).toBe(0);
      } finally {
        observer.close();
        pinger.ws.close();
      }
    },
  );

  it('treats only the exact text "ping" as a keep-alive', async () => {
    const room = uniqueRoom();
    const client = await connectRaw(room);
    try {
      for (const frame of ["PING", " ping", "ping\n", '"ping"']) client.ws.send(frame);
      client.ws.send(JSON.stringify({ message: "ping" }));
      await client.until(() => client.raw.length >= 5, "five answers");
      const frames = client.json();
      expect(frames.slice(0, 4).map((f) => f.code)).toEqual([
        "bad_json",
        "bad_json",
        "bad_json",
        "bad_frame",
      ]);
      expect(frames[4]).toMatchObject({ type: "chat", id: 1, message: "ping" });
      expect(client.raw).not.toContain("pong");
    } finally {
      client.ws.close();
    }
  });
});

describe("a member that never reads", () => {
  it("does not hold up delivery to the others, and gets everything in order once it reads", async () => {
    const room = uniqueRoom();
    // 101, but the client end is never accepted: nothing is read from it.
    const stuck = await request(wsPath(room), { headers: { Upgrade: "websocket" } });
    expect(stuck.status).toBe(101);
    const readers = [await connect(room), await connect(room)];
    const total = 400;
    const padding = "x".repeat(1900);
    try {
      // About 800 KB piles up for the stuck member while the readers get each
      // message before the next one is sent.
      for (let i = 1; i <= total; i++) {
        const res = await inject(room, `m${i} ${padding}`);
        expect(await res.json()).toEqual({ id: i, delivered: 3 });
        await Promise.all(readers.map((r) => r.untilChats(i)));
      }
      for (const r of readers) expect(chatIds(r)).toEqual(range(1, total));

      const late = new Client(stuck.webSocket!);
      await late.untilChats(total);
      expect(chatIds(late)).toEqual(range(1, total));
      expect(late.chats()[total - 1]!.message).toBe(`m${total} ${padding}`);
      late.close();
    } finally {
      closeAll(readers);
    }
  }, 30_000);
});

describe("the object evicted mid-broadcast", () => {
  /**
   * Four lanes inject tagged messages back to back while members also send
   * over their sockets; one lane evicts the object twice in the middle
   * without waiting. Each 201 must name the id under which that exact text
   * is stored and delivered, exactly once and in order.
   */
  it("keeps every acknowledged message, once, in order, for members connected throughout (sockets hibernate)", async () => {
    const room = uniqueRoom();
    const stub = env.CHAT_ROOM.getByName(room);
    const members = [
      await connect(room, "name=m0"),
      await connect(room, "name=m1"),
      await connect(room, "name=m2"),
    ];
    const acked = new Map<string, number>();
    const failures: string[] = [];
    const evictions: Promise<unknown>[] = [];
    const socketTags: string[] = [];
    const lanes = 4;
    const perLane = 30;
    const lane = async (l: number) => {
      for (let i = 0; i < perLane; i++) {
        const tag = `lane${l}-${i}`;
        const res = await inject(room, tag);
        const body = (await res.json()) as { id?: number; error?: string };
        if (res.status === 201 && typeof body.id === "number") acked.set(tag, body.id);
        else failures.push(`${tag}: ${res.status} ${JSON.stringify(body)}`);
        if (l === 0 && (i === 8 || i === 18)) evictions.push(evictDurableObject(stub));
        if (l === 1 && i % 3 === 0) {
          const sender = members[(i / 3) % members.length]!;
          const socketTag = `sock-${i}`;
          socketTags.push(socketTag);
          sender.send({ message: socketTag });
        }
      }
    };
    try {
      await Promise.all(range(0, lanes - 1).map(lane));
      // Both evictions found the object running, i.e. really happened mid-stream.
      await Promise.all(evictions);
      expect(failures).toEqual([]);

      const total = lanes * perLane + socketTags.length;
      for (const m of members) await m.untilChats(total, 10_000);
      await members[0]!.quiet();
      const expectedTags = [...acked.keys(), ...socketTags].toSorted();
      for (const m of members) {
        expect(m.closed).toBeNull();
        expect(chatIds(m)).toEqual(range(1, total));
        expect(
          m
            .chats()
            .map((f) => f.message as string)
            .toSorted(),
        ).toEqual(expectedTags);
        const ackedIds = m.chats().filter((f) => acked.has(f.message));
        expect(ackedIds.map((f) => acked.get(f.message))).toEqual(ackedIds.map((f) => f.id));
      }
      const s = await stats(room);
      expect(s.lastId).toBe(total);
      expect(s.members).toBe(members.length);

      // The retained window holds exactly what was delivered under those ids.
      const res = await api(`/rooms/${room}/messages?limit=${TEST_HISTORY_LIMIT}`, {
        headers: fromAnywhere(),
      });
      const stored = ((await res.json()) as { messages: { id: number; message: string }[] })
        .messages;
      const delivered = new Map(members[0]!.chats().map((f) => [f.id as number, f.message]));
      expect(stored.map((m) => m.id)).toEqual(range(total - TEST_HISTORY_LIMIT + 1, total));
      for (const m of stored) expect(m.message).toBe(delivered.get(m.id));
    } finally {
      closeAll(members);
    }
  }, 30_000);

  // Reaches into the room object's own sockets: not there with relays.
  it.skipIf(RELAYS)(
    "lets members whose sockets were closed by the eviction recover everything with since=",
    async () => {
      const room = uniqueRoom();
      const stub = env.CHAT_ROOM.getByName(room);
      /** Every chat frame each member saw, across its connections. */
      const seen: Frame[][] = [[], [], []];
      const current: Client[] = [];
      let reconnects = 0;
      let done = false;
      const attach = (i: number, c: Client) => {
        current[i] = c;
        c.ws.addEventListener("message", (e) => {
          const f = JSON.parse(e.data as string) as Frame;
          if (f.type === "chat") seen[i]!.push(f);
        });
        c.ws.addEventListener("close", () => {
          if (done) return;
          reconnects++;
          // Resume after the last id this member saw, as a real client would.
          void connect(room, `since=${seen[i]!.at(-1)?.id ?? 0}`).then((next) => attach(i, next));
        });
      };
      for (let i = 0; i < 3; i++) attach(i, await connect(room));

      const acked = new Map<number, string>();
      const statuses: number[] = [];
      const lane = async (l: number) => {
        for (let i = 0; i < 25; i++) {
          const tag = `lane${l}-${i}`;
          const res = await inject(room, tag);
          statuses.push(res.status);
          if (res.status === 201) acked.set(((await res.json()) as { id: number }).id, tag);
          if (l === 0 && i === 10) await evictDurableObject(stub, { webSockets: "close" });
        }
      };
      try {
        await Promise.all([0, 1, 2].map(lane));
        expect(statuses.filter((s) => s !== 201)).toEqual([]);
        const total = 75;
        await waitFor(() => seen.every((s) => s.length >= total), "every member to catch up");
        await current[0]!.quiet();
        expect(reconnects).toBe(3);
        const expected = range(1, total).map((id) => [id, acked.get(id)]);
        for (const s of seen) expect(s.map((f) => [f.id, f.message])).toEqual(expected);
      } finally {
        done = true;
        closeAll(current);
      }
    },
    30_000,
  );
});

describe("a burst of 1,000 simultaneous joins", () => {
  it("accepts every one, counts them in a few presence frames, and reaches them all with one broadcast", async () => {
    const room = uniqueRoom();
    const observer = await connect(room, "name=observer&rich=1");
    const n = 1000;
    const responses = await Promise.all(
      range(1, n).map((i) =>
        request(wsPath(room, `name=p${i}`), { headers: { Upgrade: "websocket" } }),
      ),
    );
    expect(responses.filter((r) => r.status !== 101).map((r) => r.status)).toEqual([]);
    const clients = responses.map((r) => new Client(r.webSocket!));
    try {
      await observer.until((c) => presentCount(c) === n + 1, `${n} joins`, 20_000);
      // Names for the first 100, the rest as a count (docs/protocol.md, Presence).
      expect(presentNames(observer)).toHaveLength(100);
      // Diffs, not a frame per join: far fewer frames than members.
      expect(observer.ofType("presence").length).toBeLessThan(n / 10);
      const s = await stats(room);
      expect(s.members).toBe(n + 1);
      expect(new Set(s.names).size).toBe(n + 1);

      const res = await inject(room, "to everyone");
      expect(await res.json()).toEqual({ id: 1, delivered: n + 1 });
      clients[n - 1]!.send({ message: "from the last to join" });
      await Promise.all(clients.map((c) => c.untilChats(2, 20_000)));
      for (const c of clients)
        expect(c.chats().map((f) => f.message)).toEqual(["to everyone", "from the last to join"]);

      closeAll(clients);
      await untilStats(room, (x) => x.members === 1, "everyone but the observer to leave", 20_000);
    } finally {
      closeAll([observer, ...clients]);
    }
  }, 60_000);
});
