// A room spread over relays, the way a user turns it on: ROOM_RELAYS=3 in
// `.dev.vars` of a copy of the project, `npm run dev`, real `ws` clients.
// Members land on several relays (the stats API lists them), every member
// sees the same ids, presence counts the whole room, a kick reaches a member
// on another relay, and a member that reconnects with since gets exactly
// what it missed (the bytes the history API's messages serialise to, batched
// for a batch client), or history_reset with a stale epoch.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { WebSocket } from "ws";
import { startProjectCopy, type ProjectCopy } from "../scripts/dev-server.ts";
import { openSocket } from "./open-socket.ts";

type Frame = Record<string, unknown> & { type?: string };

interface Member {
  ws: WebSocket;
  frames: Frame[];
  /** Each WebSocket message as it came (a batch client's holds several frames). */
  raw: string[];
  closed: number | null;
}

async function until(ok: () => boolean, what: string, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const chatIds = (m: Member) => m.frames.filter((f) => f.type === "chat").map((f) => f.id as number);
const count = (m: Member) =>
  (m.frames.findLast((f) => f.type === "welcome" || f.type === "presence")?.count as number) ??
  null;

describe("ROOM_RELAYS=3 under `npm run dev`", () => {
  let server: ProjectCopy;
  const log: string[] = [];

  before(async () => {
    server = await startProjectCopy({
      devVars: { ROOM_RELAYS: "3", MAX_CONNECTIONS_PER_ADDRESS: "1000" },
      log: (line) => log.push(line),
    });
  });

  after(async () => {
    await server?.remove();
  });

  async function api(path: string, init: RequestInit = {}): Promise<Response> {
    return fetch(`${server.url}/api${path}`, {
      ...init,
      headers: { Authorization: `Bearer ${server.token}`, ...init.headers },
    });
  }

  async function join(room: string, query: string): Promise<Member> {
    const url = `${server.url.replace("http", "ws")}/ws/chat/${encodeURIComponent(room)}/?${query}`;
    const ws = await openSocket(url, query);
    const member: Member = { ws, frames: [], raw: [], closed: null };
    ws.on("message", (data) => {
      member.raw.push(String(data));
      for (const line of String(data).split("\n")) member.frames.push(JSON.parse(line) as Frame);
    });
    ws.on("close", (code) => (member.closed = code));
    return member;
  }

  it("spreads members over relays; all see one sequence, presence counts everyone, a kick crosses relays", async () => {
    const room = `relays-${crypto.randomUUID()}`;
    // Keyless guests land on a relay at random: 24 of them miss one of three
    // relays with probability 3 × (2/3)^24, about 2 in 10,000.
    const members: Member[] = [];
    for (let i = 0; i < 24; i++) members.push(await join(room, `rich=1&name=m${i}`));
    try {
      await until(() => members.every((m) => count(m) === 24), "every member counting 24");

      const stats = (await (await api(`/rooms/${encodeURIComponent(room)}`)).json()) as {
        members: number;
        relays: { relay: number; sockets: number }[];
      };
      assert.equal(stats.members, 24);
      assert.equal(stats.relays.length, 3, JSON.stringify(stats.relays));
      assert.equal(
        stats.relays.reduce((sum, r) => sum + r.sockets, 0),
        24,
      );

      // Members on every relay talk at once, and the API posts too.
      for (let i = 0; i < 6; i++) members[i * 4]!.ws.send(JSON.stringify({ message: `hi ${i}` }));
      const posted = await api(`/rooms/${encodeURIComponent(room)}/messages`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ message: "from the API" }),
      });
      assert.equal(posted.status, 201);
      await until(() => members.every((m) => chatIds(m).length === 7), "7 chats everywhere");
      for (const m of members) assert.deepEqual(chatIds(m), [1, 2, 3, 4, 5, 6, 7]);

      // A kick through the API closes the member wherever it is; the others count 23.
      const victim = members[13]!;
      const you = victim.frames.find((f) => f.type === "welcome")!.you as { id: string };
      const kicked = await api(`/rooms/${encodeURIComponent(room)}/members/${you.id}?kind=guest`, {
        method: "DELETE",
      });
      assert.equal(kicked.status, 200);
      await until(() => victim.closed !== null, "the kicked member closed");
      assert.equal(victim.closed, 4001);
      const others = members.filter((m) => m !== victim);
      await until(() => others.every((m) => count(m) === 23), "every other member counting 23");

      // One leaves, misses two messages, and comes back with since on any relay.
      const away = members[2]!;
      away.ws.close();
      await until(() => others.every((m) => m === away || count(m) === 22), "the leave counted");
      for (const text of ["while away 1", "while away 2"])
        await api(`/rooms/${encodeURIComponent(room)}/messages`, {
          method: "POST",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ message: text }),
        });
      const back = await join(room, "name=back&since=7");
      try {
        await until(() => chatIds(back).length === 2, "the two missed messages");
        assert.deepEqual(chatIds(back), [8, 9]);
      } finally {
        back.ws.close();
      }
    } catch (err) {
      throw new Error(`${String(err)}\n--- npm run dev ---\n${log.slice(-40).join("\n")}`, {
        cause: err,
      });
    } finally {
      for (const m of members) m.ws.close();
    }
  });

  it("a keyed member reconnecting with since and epoch gets exactly the missed frames, as bytes and batched; a stale epoch gets history_reset", async () => {
    const room = `resume-${crypto.randomUUID()}`;
    const post = (message: string) =>
      api(`/rooms/${encodeURIComponent(room)}/messages`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ message }),
      });
    // Members who stay, on every relay (24 at random miss one with
    // probability about 2 in 10,000), so each relay keeps its recent frames
    // and a keyed guest comes back to one that holds what it missed.
    const members: Member[] = [];
    for (let i = 0; i < 24; i++) members.push(await join(room, `name=s${i}`));
    const key = crypto.randomUUID();
    try {
      const stats = (await (await api(`/rooms/${encodeURIComponent(room)}`)).json()) as {
        relays: unknown[];
      };
      assert.equal(stats.relays.length, 3);
      const away = await join(room, `guest=${key}&rich=1`);
      members.push(away);
      for (let i = 1; i <= 3; i++) assert.equal((await post(`before ${i}`)).status, 201);
      await until(() => chatIds(away).length === 3, "3 chats before leaving");
      const epoch = away.frames.find((f) => f.type === "welcome")!.epoch as number;
      away.ws.close();
      for (let i = 1; i <= 5; i++) assert.equal((await post(`missed ${i}`)).status, 201);
      await until(() => members.slice(0, 24).every((m) => chatIds(m).length === 8), "8 chats");

      const res = await api(`/rooms/${encodeURIComponent(room)}/messages?since=3`);
      const { messages } = (await res.json()) as { messages: Record<string, unknown>[] };
      const expected = messages.map((m) => JSON.stringify({ type: "chat", ...m }));
      assert.deepEqual(
        messages.map((m) => m.id),
        [4, 5, 6, 7, 8],
      );

      const back = await join(room, `guest=${key}&rich=1&since=3&epoch=${epoch}`);
      const batched = await join(room, `guest=${key}&batch=1&since=3&epoch=${epoch}`);
      const stale = await join(room, `guest=${key}&rich=1&since=3&epoch=${epoch - 1}`);
      members.push(back, batched, stale);
      await until(() => chatIds(back).length === 5, "the 5 missed on the resumed socket");
      await until(() => chatIds(batched).length === 5, "the 5 missed, batched");
      await until(() => stale.frames.some((f) => f.type === "history_reset"), "history_reset");
      const welcome = back.frames.find((f) => f.type === "welcome")!;
      assert.equal(welcome.history, 5);
      assert.equal(welcome.lastId, 8);
      assert.deepEqual(
        back.raw.filter((r) => r.startsWith('{"type":"chat"')),
        expected,
      );
      assert.deepEqual(batched.raw, [expected.join("\n")]);
      assert.deepEqual(
        stale.frames.filter((f) => f.type === "history_reset"),
        [{ type: "history_reset", since: 3, lastId: 8 }],
      );
      assert.deepEqual(chatIds(stale), []);

      // Live frames follow the history with no gap and nothing twice.
      assert.equal((await post("live")).status, 201);
      await until(() => chatIds(back).length === 6 && chatIds(batched).length === 6, "live");
      assert.deepEqual(chatIds(back), [4, 5, 6, 7, 8, 9]);
      assert.deepEqual(chatIds(batched), [4, 5, 6, 7, 8, 9]);

      // The room's activity line counts the two resumes its relay answered
      // from its own frames (the stale one was the room's).
      const resumedOnRelay = () =>
        log
          .filter((line) => line.includes('"event":"activity"') && line.includes(room))
          .reduce((sum, line) => {
            const fields = JSON.parse(line.slice(line.indexOf("{"))) as { resumedOnRelay?: number };
            return sum + (fields.resumedOnRelay ?? 0);
          }, 0);
      await until(() => resumedOnRelay() >= 2, "resumedOnRelay in the activity log");
      assert.equal(resumedOnRelay(), 2);
    } catch (err) {
      throw new Error(`${String(err)}\n--- npm run dev ---\n${log.slice(-40).join("\n")}`, {
        cause: err,
      });
    } finally {
      for (const m of members) m.ws.close();
    }
  });
});
