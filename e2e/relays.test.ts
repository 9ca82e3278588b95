// The browser tests of chat, presence and reconnecting again, on rooms
// spread over relays (issue 23: "a room with several relays passes the same
// browser tests as a single-object room"). One server for all three suites,
// started the way a user turns relays on: ROOM_RELAYS=3 in `.dev.vars` of a
// copy of the project, `npm run dev`. The first test proves the rooms really
// are spread: the stats API lists each relay with its sockets.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { WebSocket } from "ws";
import { openSocket } from "../test-node/open-socket.ts";
import { startProjectCopy, type ProjectCopy } from "../scripts/dev-server.ts";
import { chatSuite } from "./chat-suite.ts";
import { launchBrowser, type Stage, uniqueRoom } from "./helpers.ts";
import { presenceSuite } from "./presence-suite.ts";
import { reconnectSuite } from "./reconnect-suite.ts";

const JOIN_SECRET = `e2e-relays-${crypto.randomUUID()}`;
const BROADCAST_TOKEN = `e2e-relays-token-${crypto.randomUUID()}`;
// What the three suites need of the server, in one .dev.vars: join tokens
// (chat), 150 sockets from one address (presence), and a join without
// `since` replaying only 2 messages (reconnect).
const devVars = {
  ROOM_RELAYS: "3",
  BROADCAST_TOKEN,
  JOIN_SECRET,
  MAX_CONNECTIONS_PER_ADDRESS: "1000",
  HISTORY_ON_JOIN: "2",
};
const stage = {} as Stage;
let copy: ProjectCopy;

before(async () => {
  [copy, stage.browser] = await Promise.all([startProjectCopy({ devVars }), launchBrowser()]);
  stage.server = copy;
  stage.restart = async () => {
    copy = await startProjectCopy({ dir: copy.dir, port: copy.port, devVars });
    return copy;
  };
});

after(async () => {
  await stage.browser?.close();
  await copy?.remove();
});

describe("rooms over relays under `npm run dev`", () => {
  it("reads ROOM_RELAYS=3 from .dev.vars and spreads a room's members over all three relays", async () => {
    assert.match(readFileSync(join(copy.dir, ".dev.vars"), "utf8"), /^ROOM_RELAYS="3"$/m);
    const room = uniqueRoom("spread");
    const base = `${copy.url.replace("http", "ws")}/ws/chat/${room}/`;
    // Keyless guests land on a relay at random: 24 of them miss one of three
    // relays with probability 3 × (2/3)^24, about 2 in 10,000.
    const sockets: WebSocket[] = [];
    try {
      for (let i = 0; i < 24; i++) sockets.push(await openSocket(`${base}?name=m${i}`, `m${i}`));
      // A relay tells the room of its members a moment after they open: ask until all are in.
      type Stats = { members: number; relays?: { relay: number; sockets: number }[] };
      let stats: Stats = { members: 0 };
      for (let tries = 0; stats.members < 24 && tries < 100; tries++) {
        if (tries) await new Promise((r) => setTimeout(r, 100));
        const res = await fetch(`${copy.url}/api/rooms/${room}`, {
          headers: { Authorization: `Bearer ${BROADCAST_TOKEN}` },
        });
        stats = (await res.json()) as Stats;
      }
      assert.equal(stats.members, 24);
      assert.equal(stats.relays?.length, 3, JSON.stringify(stats));
      assert.equal(
        stats.relays.reduce((sum, r) => sum + r.sockets, 0),
        24,
      );
    } finally {
      for (const ws of sockets) ws.close();
    }
  });
});

const label = " (ROOM_RELAYS=3)";
chatSuite(stage, { joinSecret: JOIN_SECRET, screenshots: false, label });
presenceSuite(stage, label);
reconnectSuite(stage, label);
