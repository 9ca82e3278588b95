// Presence on the room page in a real browser: small rooms show everyone at
// once; big rooms show a count, the first 100 and the rest on request. A
// suite: presence.test.ts runs it on one object per room, relays.test.ts over
// relays. The server must allow 150 sockets from one address
// (MAX_CONNECTIONS_PER_ADDRESS).
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import type { Browser } from "playwright-core";
import { WebSocket } from "ws";
import type { DevServer } from "../scripts/dev-server.ts";
import {
  newPerson,
  openRoom,
  pageErrors,
  type Stage,
  uniqueRoom,
  waitForMembers,
} from "./helpers.ts";

/** Bare `ws` members, as the tutorial's client joins: no presence frames for them. */
async function joinBare(server: DevServer, room: string, names: string[]): Promise<WebSocket[]> {
  const base = server.url.replace(/^http/, "ws");
  return Promise.all(
    names.map(
      (name) =>
        new Promise<WebSocket>((resolve, reject) => {
          const ws = new WebSocket(
            `${base}/ws/chat/${encodeURIComponent(room)}/?name=${encodeURIComponent(name)}`,
          );
          ws.once("open", () => resolve(ws));
          ws.once("error", reject);
        }),
    ),
  );
}

/** Registers the presence tests against `stage`; `label` is appended to the suite's name. */
export function presenceSuite(stage: Stage, label = ""): void {
  describe(`presence on the room page${label}`, () => {
    let server: DevServer;
    let browser: Browser;
    before(() => {
      ({ server, browser } = stage);
    });

    it("shows three people each other within a moment, and a leaver goes", async () => {
      const room = uniqueRoom("three");
      const people = await Promise.all(["ann", "ben", "cy"].map((n) => newPerson(browser, n)));
      const pages = await Promise.all(people.map((p) => openRoom(p, server.url, room)));
      for (const page of pages) {
        // waitForMembers allows 15 s; the diff comes after 50 ms, so measure it.
        const t0 = Date.now();
        await waitForMembers(page, ["ann", "ben", "cy"]);
        assert.ok(Date.now() - t0 < 2000, "everyone shown within 2 s");
        assert.equal(await page.locator("#member-count").textContent(), "3");
      }
      await pages[2]!.close();
      await waitForMembers(pages[0]!, ["ann", "ben"]);
      assert.equal(await pages[0]!.locator("#member-count").textContent(), "2");
      for (const page of pages.slice(0, 2)) assert.deepEqual(pageErrors.get(page), []);
      for (const p of people) await p.close();
    });

    it("in a room of 150 shows the count, the first 100, and everyone on request", async () => {
      const room = uniqueRoom("big");
      const names = Array.from({ length: 149 }, (_, i) => `m${String(i).padStart(3, "0")}`);
      const sockets = await joinBare(server, room, names);
      const person = await newPerson(browser, "zed");
      try {
        const page = await openRoom(person, server.url, room);
        await page.waitForFunction(
          () => document.querySelector("#member-count")?.textContent === "150",
        );
        const listed = await page.locator("#member-list .member-name").count();
        assert.ok(listed >= 100 && listed < 150, `first page shown (${listed})`);
        const more = page.locator("#show-all-members");
        assert.match((await more.textContent()) ?? "", /Show everyone \(\d+ more\)/);

        await more.click();
        await waitForMembers(page, [...names, "zed"]);
        assert.equal(await page.locator("#show-all-members").count(), 0);

        // Later joins and leaves still arrive as diffs.
        sockets.pop()!.close();
        await waitForMembers(page, [...names.slice(0, -1), "zed"]);
        assert.equal(await page.locator("#member-count").textContent(), "149");
        assert.deepEqual(pageErrors.get(page), []);
      } finally {
        for (const ws of sockets) ws.close();
        await person.close();
      }
    });
  });
}
