// Pages that lose their socket (network cut, server restart) reconnect by
// themselves and end up showing every message exactly once, including those
// posted through the inject API while they were away.
//
// Pages reach the server through a TCP proxy (CuttableProxy), so a test can
// drop their connections and keep them out while it posts; the server itself
// is restarted on the same port with the same state (`stage.restart`).
//
// A suite: reconnect.test.ts runs it on one object per room, relays.test.ts
// over relays. The server must have HISTORY_ON_JOIN=2: a join without
// `since` replays only the latest 2 messages, so three posted while a page is
// away prove the page resumed from its last id.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Browser, Page } from "playwright-core";
import type { DevServer } from "../scripts/dev-server.ts";
import {
  CuttableProxy,
  inject,
  newPerson,
  openRoom,
  pageErrors,
  say,
  shown,
  type Stage,
  uniqueRoom,
  waitForMembers,
  waitForState,
  waitForTexts,
} from "./helpers.ts";

/** Every message shown exactly once, in id order, with exactly these texts. */
async function assertShowsExactly(page: Page, texts: string[]): Promise<void> {
  await waitForTexts(page, texts, 30_000);
  const messages = await shown(page);
  assert.deepEqual(
    messages.map((m) => m.text),
    texts,
    "each message once, in the order the room gave them",
  );
  const ids = messages.map((m) => m.id);
  assert.deepEqual(
    ids,
    ids.toSorted((a, b) => a - b),
    "ids in order",
  );
  assert.equal(new Set(ids).size, ids.length, "no id twice");
}

/** Registers the reconnect tests against `stage` (which must have `restart`). */
export function reconnectSuite(stage: Stage, label = ""): void {
  describe(`reconnecting${label}`, () => {
    let server: DevServer;
    let proxy: CuttableProxy;
    let browser: Browser;
    before(async () => {
      ({ server, browser } = stage);
      proxy = await new CuttableProxy(server.port).start();
    });
    after(async () => {
      await proxy?.close();
    });

    it("comes back after the network drops, with what was missed and what was typed meanwhile", async () => {
      const room = uniqueRoom("flaky");
      const alice = await newPerson(browser, "alice");
      const bob = await newPerson(browser, "bob");
      const a = await openRoom(alice, proxy.url, room);
      const b = await openRoom(bob, proxy.url, room);
      await say(a, "before 1");
      await say(b, "before 2");
      await assertShowsExactly(a, ["before 1", "before 2"]);

      proxy.cut();
      await waitForState(a, "reconnecting");
      await waitForState(b, "reconnecting");
      assert.match((await a.locator("#connection-status").textContent()) ?? "", /Reconnecting/);

      // While they are away: a script posts, and alice keeps typing.
      for (const n of [1, 2, 3]) await inject(server, room, `while away ${n}`, "ci");
      await say(a, "typed while offline");
      await a
        .locator("#connection-status", { hasText: "1 message will be sent when connected" })
        .waitFor();

      proxy.allow();
      await waitForState(a, "live", 30_000);
      await waitForState(b, "live", 30_000);
      const all = [
        "before 1",
        "before 2",
        "while away 1",
        "while away 2",
        "while away 3",
        "typed while offline",
      ];
      await assertShowsExactly(a, all);
      await assertShowsExactly(b, all);

      // Live again both ways, and the member list has no ghosts of the old sockets.
      await say(b, "after");
      await assertShowsExactly(a, [...all, "after"]);
      await waitForMembers(a, ["alice", "bob"]);
      assert.equal(await a.locator("#member-count").textContent(), "2");
      assert.deepEqual(pageErrors.get(a), []);
      await alice.close();
      await bob.close();
    });

    it("comes back after the server restarts, with what was posted before it returned", async () => {
      const room = uniqueRoom("restart");
      const alice = await newPerson(browser, "alice");
      const bob = await newPerson(browser, "bob");
      const a = await openRoom(alice, proxy.url, room);
      const b = await openRoom(bob, proxy.url, room);
      await say(a, "one");
      await say(b, "two");
      await assertShowsExactly(b, ["one", "two"]);

      // Kill wrangler dev and start it again on the same port and state.
      await server.stop();
      await waitForState(a, "reconnecting");
      await waitForState(b, "reconnecting");
      // Keep the pages out until the posts below are in, so they arrive by
      // `since` replay rather than live.
      proxy.cut();
      server = stage.server = await stage.restart!();
      const three = await inject(server, room, "three (posted while pages were away)", "ci");
      await inject(server, room, "four", "ci");
      await inject(server, room, "five", "ci");
      proxy.allow();

      await waitForState(a, "live", 30_000);
      await waitForState(b, "live", 30_000);
      const all = ["one", "two", "three (posted while pages were away)", "four", "five"];
      await assertShowsExactly(a, all);
      await assertShowsExactly(b, all);
      // Ids carried on across the restart: nothing was renumbered or replayed twice.
      assert.equal((await shown(a))[2]?.id, three);

      await say(a, "six");
      await assertShowsExactly(b, [...all, "six"]);
      await waitForMembers(b, ["alice", "bob"]);
      await alice.close();
      await bob.close();
    });
  });
}
