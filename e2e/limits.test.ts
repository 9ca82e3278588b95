// Send limits seen from a browser: a room page that reconnects resends the
// messages whose echo it never got, and the room recognises them before it
// counts the limit, so nothing is refused and nothing is shown twice.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Browser } from "playwright-core";
import { startDevServer, type DevServer } from "../scripts/dev-server.ts";
import {
  CuttableProxy,
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

// 30 per window: the page's 27 messages are accepted once; the resend of 25
// inside the same window would all be refused if it were counted again.
const vars = { RATE_LIMIT_MESSAGES: "30" };
let server: DevServer;
let proxy: CuttableProxy;
let browser: Browser;

before(async () => {
  [server, browser] = await Promise.all([startDevServer({ vars }), launchBrowser()]);
  proxy = await new CuttableProxy(server.port).start();
});

after(async () => {
  await browser?.close();
  await proxy?.close();
  await server?.stop();
});

describe("resending after a reconnect", () => {
  it("delivers 25 unechoed messages exactly once and is never rate limited", async () => {
    const room = uniqueRoom("resend");
    const alice = await newPerson(browser, "alice");
    const bob = await newPerson(browser, "bob");
    const a = await openRoom(alice, proxy.url, room);
    const b = await openRoom(bob, server.url, room);
    const refusals: string[] = [];
    a.on("websocket", (ws) =>
      ws.on("framereceived", ({ payload }) => {
        if (String(payload).includes('"rate_limited"')) refusals.push(String(payload));
      }),
    );
    await say(a, "hello");
    await waitForTexts(b, ["hello"]);

    // The room stores each message, but alice never sees an echo.
    proxy.dropReplies();
    const texts = Array.from({ length: 25 }, (_, i) => `unechoed ${i + 1}`);
    for (const t of texts) await say(a, t);
    await waitForTexts(b, texts);

    proxy.cut();
    await waitForState(a, "reconnecting");
    proxy.allow();
    await waitForState(a, "live", 30_000);
    await waitForTexts(a, texts, 30_000);
    // Give the resent frames' answers time to arrive.
    await say(a, "after");
    await waitForTexts(b, ["after"]);
    await waitForTexts(a, ["after"]);

    const all = ["hello", ...texts, "after"];
    for (const page of [a, b]) {
      const messages = await shown(page);
      assert.deepEqual(
        messages.map((m) => m.text),
        all,
        "each message once, in order",
      );
    }
    assert.deepEqual(refusals, [], "no rate_limited frame reached the page");
    assert.equal(await a.locator("#chat-error").textContent(), "");
    assert.deepEqual(pageErrors.get(a), []);
    await alice.close();
    await bob.close();
  });
});
