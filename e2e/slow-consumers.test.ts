// A room page whose tab stops taking messages in (its main thread is busy,
// as in a frozen background tab) stops acknowledging; the room closes it
// with 4008 once it is too far behind, and the page comes back with `since`
// and shows every message exactly once.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Browser } from "playwright-core";
import { startDevServer, type DevServer } from "../scripts/dev-server.ts";
import {
  inject,
  launchBrowser,
  newPerson,
  openRoom,
  pageErrors,
  say,
  shown,
  uniqueRoom,
  waitForState,
  waitForTexts,
} from "./helpers.ts";

// A member that acks may be HISTORY_LIMIT / 2 = 20 messages behind.
const vars = { HISTORY_LIMIT: "40" };
let server: DevServer;
let browser: Browser;

before(async () => {
  [server, browser] = await Promise.all([startDevServer({ vars }), launchBrowser()]);
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

describe("a page that falls behind", () => {
  it("is closed as slow, resumes with since, and shows every message once", async () => {
    const room = uniqueRoom("slow");
    const alice = await newPerson(browser, "alice");
    const a = await openRoom(alice, server.url, room);
    const sockets: string[] = [];
    a.on("websocket", (ws) => sockets.push(ws.url()));
    await say(a, "hello");
    await waitForTexts(a, ["hello"]);
    // Let the page acknowledge once (within a second of a message).
    await new Promise((r) => setTimeout(r, 1500));

    // Freeze the page's main thread while 30 messages are posted.
    const frozen = a.evaluate(() => {
      const end = Date.now() + 6000;
      while (Date.now() < end);
    });
    const texts = Array.from({ length: 30 }, (_, i) => `while frozen ${i + 1}`);
    for (const t of texts) await inject(server, room, t, "ci");
    await frozen;

    await waitForTexts(a, texts, 30_000);
    await waitForState(a, "live", 30_000);
    assert.ok(sockets.length >= 1, "the page opened a new socket after being closed");
    assert.match(sockets[0] ?? "", /since=\d+/, "and resumed with since");
    await say(a, "after");
    await waitForTexts(a, ["after"]);
    assert.deepEqual(
      (await shown(a)).map((m) => m.text),
      ["hello", ...texts, "after"],
      "each message once, in order",
    );
    assert.deepEqual(pageErrors.get(a), []);
    await alice.close();
  });
});
