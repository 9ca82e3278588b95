// The chat pages in a real browser: lobby, rooms, Unicode, escaping,
// headers, bad room names, and the docs' screenshots. A suite, not a test
// file: chat.test.ts runs it on one object per room, relays.test.ts on rooms
// spread over relays (issue 23).
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { before, describe, it } from "node:test";
import type { Browser } from "playwright-core";
import { WebSocket } from "ws";
import type { DevServer } from "../scripts/dev-server.ts";
import {
  inject,
  newPerson,
  openRoom,
  pageErrors,
  roomUrl,
  say,
  screenshotPath,
  shown,
  type Stage,
  uniqueRoom,
  waitForMembers,
  waitForTexts,
} from "./helpers.ts";

const part = (o: object) => Buffer.from(JSON.stringify(o)).toString("base64url");

/** A join token as the README's backend would mint it (HS256 JWT). */
function joinToken(
  joinSecret: string,
  claims: { sub: string; name: string; room: string },
): string {
  const exp = Math.floor(Date.now() / 1000) + 600;
  const body = `${part({ alg: "HS256", typ: "JWT" })}.${part({ ...claims, exp })}`;
  return `${body}.${createHmac("sha256", joinSecret).update(body).digest("base64url")}`;
}

export interface ChatSuiteOptions {
  /** The server's JOIN_SECRET, to mint join tokens. */
  joinSecret: string;
  /** Take the README's screenshots (one run only, so docs/ gets one set). */
  screenshots: boolean;
  /** Appended to the suite's name, e.g. " (ROOM_RELAYS=3)". */
  label?: string;
}

/** Registers the chat tests against `stage` (filled in by the caller's `before`). */
export function chatSuite(stage: Stage, options: ChatSuiteOptions): void {
  describe(`chatting in the browser${options.label ?? ""}`, () => {
    let server: DevServer;
    let browser: Browser;
    before(() => {
      ({ server, browser } = stage);
    });

    it("works like the tutorial's test: type a room, Enter, type a message, Enter", async () => {
      const context = await newPerson(browser, null);
      const page = await context.newPage();
      await page.goto(`${server.url}/chat/`);
      const room = uniqueRoom("room_1");
      // Keys go to whatever has focus: the autofocused fields, as in the tutorial.
      await page.keyboard.type(room);
      await page.keyboard.press("Enter");
      // The tutorial waits for the URL to change, then types at once.
      await page.waitForURL(roomUrl(server.url, room));
      await page.keyboard.type("hello");
      await page.keyboard.press("Enter");

      // The tutorial's test reads `#chat-log`.value.
      await page.waitForFunction(() =>
        (document.querySelector("#chat-log") as { value?: string } | null)?.value?.includes(
          "hello",
        ),
      );
      const [message] = await shown(page);
      assert.equal(message?.text, "hello");
      assert.match(message.user, /^guest-\d{4}$/, "no name chosen: the room makes one up");
      assert.equal(await page.locator("#my-name").textContent(), message.user);
      await context.close();
    });

    it("shows two people in one room each other's messages and each other", async () => {
      const room = uniqueRoom("pair");
      const alice = await newPerson(browser, "alice");
      const bob = await newPerson(browser, "bob");
      const a = await openRoom(alice, server.url, room);
      const b = await openRoom(bob, server.url, room);

      await say(a, "hi bob");
      await waitForTexts(b, ["hi bob"]);
      await say(b, "hi alice");
      await waitForTexts(a, ["hi bob", "hi alice"]);

      for (const page of [a, b]) {
        assert.deepEqual(
          (await shown(page)).map((m) => `${m.user}: ${m.text}`),
          ["alice: hi bob", "bob: hi alice"],
        );
        await waitForMembers(page, ["alice", "bob"]);
        // Each message shows its time.
        assert.match(
          (await page.locator("#chat-log li.msg time").first().textContent()) ?? "",
          /\d/,
        );
      }
      assert.equal(await a.locator("#member-count").textContent(), "2");
      assert.deepEqual(pageErrors.get(a), []);

      await b.close();
      await waitForMembers(a, ["alice"]);
      await alice.close();
      await bob.close();
    });

    it("keeps rooms apart", async () => {
      const red = uniqueRoom("red");
      const blue = uniqueRoom("blue");
      const alice = await newPerson(browser, "alice");
      const bob = await newPerson(browser, "bob");
      const carol = await newPerson(browser, "carol");
      const a = await openRoom(alice, server.url, red);
      const b = await openRoom(bob, server.url, red);
      const c = await openRoom(carol, server.url, blue);

      await say(a, "only for red");
      await waitForTexts(b, ["only for red"]);
      // By the time blue's own message has made the round trip, a leak from
      // red (delivered to b already) would have reached c too.
      await say(c, "only for blue");
      await waitForTexts(c, ["only for blue"]);
      assert.deepEqual(
        (await shown(c)).map((m) => m.text),
        ["only for blue"],
      );
      assert.deepEqual(
        (await shown(b)).map((m) => m.text),
        ["only for red"],
      );
      await waitForMembers(c, ["carol"]);
      for (const ctx of [alice, bob, carol]) await ctx.close();
    });

    it("works end to end in a Unicode room with Unicode names", async () => {
      const room = "技术交流";
      const ming = await newPerson(browser, null);
      const page = await ming.newPage();
      await page.goto(`${server.url}/`);
      await page.locator("#display-name-input").fill("小明");
      await page.locator("#room-name-input").fill(room);
      await page.locator("#room-name-submit").click();
      await page.waitForURL(`${server.url}/chat/%E6%8A%80%E6%9C%AF%E4%BA%A4%E6%B5%81/`);
      assert.equal(await page.locator("#room-name").textContent(), room);
      assert.equal(await page.title(), `${room} · Edge chat`);
      await page.locator('#connection-status[data-state="live"]').waitFor();

      const hong = await newPerson(browser, "小红 🌸");
      const other = await openRoom(hong, server.url, room);
      await say(page, "大家好 👋 Ça va?");
      await inject(server, room, "部署完成 ✅", "机器人");
      await waitForTexts(other, ["大家好 👋 Ça va?", "部署完成 ✅"]);
      assert.deepEqual(
        (await shown(other)).map((m) => `${m.user}: ${m.text}`),
        ["小明: 大家好 👋 Ça va?", "机器人: 部署完成 ✅"],
      );
      await waitForMembers(page, ["小明", "小红 🌸"]);
      // Avatars show the whole first character, not half a surrogate pair.
      assert.equal(
        await other
          .locator("#member-list li", { hasText: "小红" })
          .locator(".avatar")
          .textContent(),
        "小",
      );
      await ming.close();
      await hong.close();
    });

    it("shows markup in messages and names as text, never runs it", async () => {
      const room = uniqueRoom("xss");
      const attack = `<img src=x onerror="window.__xss=1">`;
      const mallory = await newPerson(browser, `<b onmouseover=__xss=2>m</b>`);
      const victim = await newPerson(browser, "victim");
      const m = await openRoom(mallory, server.url, room);
      const v = await openRoom(victim, server.url, room);

      await say(m, attack);
      await inject(
        server,
        room,
        `<script>window.__xss=3</script>`,
        `<svg onload="window.__xss=4">`,
      );
      await waitForTexts(v, [attack, "<script>window.__xss=3</script>"]);
      await waitForMembers(v, [`<b onmouseover=__xss=2>m</b>`, "victim"]);
      await v.locator("#chat-log li.msg").first().hover();

      for (const page of [m, v]) {
        // oxlint-disable-next-line no-underscore-dangle -- the name the attack sets
        assert.equal(await page.evaluate(() => (window as { __xss?: unknown }).__xss), undefined);
        assert.equal(
          await page.locator("#chat-log img, #chat-log script, #chat-log svg").count(),
          0,
        );
        assert.equal(await page.locator("#member-list b").count(), 0);
        assert.equal(await page.locator("#chat-log li.msg .text").first().textContent(), attack);
      }
      await mallory.close();
      await victim.close();
    });

    it("says when the room refuses a message, and gives its text back", async () => {
      const person = await newPerson(browser, "chatty");
      const page = await openRoom(person, server.url, uniqueRoom("limits"));
      // The server allows 20 messages per 10 s on one connection.
      const sent = Array.from({ length: 20 }, (_, i) => `message ${i + 1}`);
      for (const text of sent) await say(page, text);
      await waitForTexts(page, sent);
      await say(page, "one too many");
      await page.locator("#chat-error", { hasText: "Slow down" }).waitFor();
      assert.equal(await page.locator("#chat-message-input").inputValue(), "one too many");
      assert.equal((await shown(page)).length, 20);
      // Typing again clears the error.
      await page.locator("#chat-message-input").press("End");
      await page.keyboard.type("!");
      assert.equal(await page.locator("#chat-error").textContent(), "");
      await person.close();
    });

    it("serves pages with a CSP and secure headers, and leaves the socket's 101 alone", async () => {
      for (const path of ["/", "/chat/", "/chat/lobby/", "/chat/%2F/"]) {
        const res = await fetch(`${server.url}${path}`);
        assert.match(res.headers.get("content-type") ?? "", /^text\/html/, path);
        const csp = res.headers.get("content-security-policy") ?? "";
        assert.match(csp, /default-src 'none'/, path);
        assert.match(csp, /script-src 'self'(;|$)/, path);
        assert.match(csp, /connect-src 'self' ws:\/\/127\.0\.0\.1:\d+/, path);
        assert.match(csp, /frame-ancestors 'none'/, path);
        assert.equal(res.headers.get("x-content-type-options"), "nosniff", path);
        assert.equal(res.headers.get("x-frame-options"), "DENY", path);
        assert.equal(res.headers.get("referrer-policy"), "no-referrer", path);
      }
      // The script and the style are static files, served as such.
      const script = await fetch(`${server.url}/client/room.js`);
      assert.equal(script.status, 200);
      assert.match(script.headers.get("content-type") ?? "", /javascript/);

      const upgrade = await new Promise<Record<string, unknown>>((done, fail) => {
        const ws = new WebSocket(`${server.url.replace("http", "ws")}/ws/chat/headers/`);
        ws.on("upgrade", (res) => {
          done(res.headers);
          ws.close();
        });
        ws.on("error", fail);
      });
      assert.equal(upgrade["content-security-policy"], undefined);
      assert.equal(upgrade["x-frame-options"], undefined);
    });

    it("explains a bad room name on a 400 page, and in the lobby before leaving it", async () => {
      const person = await newPerson(browser, null);
      const page = await person.newPage();
      const tooLong = "x".repeat(65);
      const res = await page.goto(`${server.url}/chat/${tooLong}/`);
      assert.equal(res?.status(), 400);
      assert.equal(await page.locator("h1").textContent(), "That room name doesn't work");
      assert.match(
        (await page.locator(".detail").textContent()) ?? "",
        /longer than 64 characters/,
      );
      await page.locator("a", { hasText: "Go to the lobby" }).click();
      await page.waitForURL(`${server.url}/`);

      const slash = await page.goto(`${server.url}/chat/a%2Fb/`);
      assert.equal(slash?.status(), 400);
      assert.match((await page.locator(".detail").textContent()) ?? "", /contains '\/'/);

      // The lobby form without its script: a GET the Worker turns into the room's URL.
      const noScript = await fetch(`${server.url}/chat/?room=${encodeURIComponent(" 技术交流 ")}`, {
        redirect: "manual",
      });
      assert.equal(noScript.status, 303);
      assert.equal(noScript.headers.get("location"), roomUrl("", "技术交流"));
      const emptyRoom = await page.goto(`${server.url}/chat/?room=`);
      assert.equal(emptyRoom?.status(), 400);
      assert.match((await page.locator(".detail").textContent()) ?? "", /empty/);

      const missing = await page.goto(`${server.url}/chat/a/b/`);
      assert.equal(missing?.status(), 404);
      assert.equal(await page.locator("h1").textContent(), "There is no page here");

      // The lobby checks the name first and stays put, with the reason next to the field.
      await page.goto(`${server.url}/`);
      await page.locator("#room-name-input").fill(tooLong);
      await page.keyboard.press("Enter");
      await page.locator("#room-name-error").getByText("longer than 64 characters").waitFor();
      assert.equal(page.url(), `${server.url}/`);
      assert.equal(await page.locator("#room-name-input").getAttribute("aria-invalid"), "true");
      assert.equal(await page.evaluate(() => document.activeElement?.id), "room-name-input");
      await person.close();
    });

    it("is usable by keyboard and screen reader", async () => {
      const person = await newPerson(browser, "kim");
      const page = await person.newPage();
      await page.goto(`${server.url}/`);
      // Every field has a label; the room field has focus.
      assert.equal(
        await page.getByLabel("Room", { exact: true }).getAttribute("id"),
        "room-name-input",
      );
      assert.equal(await page.getByLabel("Your name").getAttribute("id"), "display-name-input");
      assert.equal(await page.evaluate(() => document.activeElement?.id), "room-name-input");
      await page.keyboard.type("keyboard-only");
      await page.keyboard.press("Tab");
      assert.equal(await page.evaluate(() => document.activeElement?.id), "room-name-submit");
      await page.keyboard.press("Enter");
      await page.locator('#connection-status[data-state="live"]').waitFor();

      assert.equal(
        await page.getByLabel("Message", { exact: true }).getAttribute("id"),
        "chat-message-input",
      );
      assert.equal(await page.evaluate(() => document.activeElement?.id), "chat-message-input");
      assert.equal(await page.locator("#chat-log").getAttribute("aria-live"), "polite");
      assert.equal(await page.getByRole("status").getAttribute("id"), "connection-status");
      assert.equal(await page.getByRole("link", { name: "All rooms" }).getAttribute("href"), "/");
      await page.keyboard.type("typed without a mouse");
      await page.keyboard.press("Tab");
      assert.equal(await page.evaluate(() => document.activeElement?.id), "chat-message-submit");
      await page.keyboard.press("Enter");
      await waitForTexts(page, ["typed without a mouse"]);
      // Typing while the log has focus goes to the message field.
      await page.locator("#chat-log").focus();
      await page.keyboard.type("x");
      assert.equal(await page.evaluate(() => document.activeElement?.id), "chat-message-input");
      assert.equal(await page.locator("#chat-message-input").inputValue(), "x");
      await person.close();
    });

    it("says why a socket is refused, and joins a private room with a token", async () => {
      const room = uniqueRoom("private");
      const person = await newPerson(browser, null);
      const page = await person.newPage();
      await page.goto(roomUrl(server.url, room));
      const status = page.locator('#connection-status[data-state="refused"]');
      await status.waitFor();
      assert.match((await status.textContent()) ?? "", /Not connected: .*private/);

      const token = joinToken(options.joinSecret, { sub: "user-42", name: "Dr. Ada", room });
      await page.goto(`${roomUrl(server.url, room)}?token=${token}`);
      await page.locator('#connection-status[data-state="live"]').waitFor();
      assert.equal(await page.locator("#my-name").textContent(), "Dr. Ada");
      await say(page, "signed in");
      await waitForTexts(page, ["signed in"]);
      assert.equal((await shown(page))[0]?.user, "Dr. Ada");
      await person.close();
    });

    it("stays out, saying so, when a moderator removes it", async () => {
      const room = uniqueRoom("moderated");
      const troll = await newPerson(browser, "troll");
      const watcher = await newPerson(browser, "watcher");
      const t = await openRoom(troll, server.url, room);
      const w = await openRoom(watcher, server.url, room);
      await waitForMembers(w, ["troll", "watcher"]);

      const api = `${server.url}/api/rooms/${encodeURIComponent(room)}/members`;
      const auth = { Authorization: `Bearer ${server.token}` };
      const { members } = (await (await fetch(api, { headers: auth })).json()) as {
        members: { id: string; name: string }[];
      };
      const id = members.find((m) => m.name === "troll")?.id;
      assert.ok(id, "the API lists the troll");
      const removed = await fetch(`${api}/${id}`, { method: "DELETE", headers: auth });
      assert.equal(removed.status, 200);

      const status = t.locator('#connection-status[data-state="refused"]');
      await status.waitFor();
      assert.match((await status.textContent()) ?? "", /Not connected: removed by a moderator/);
      await waitForMembers(w, ["watcher"]);
      await troll.close();
      await watcher.close();
    });

    it("remembers the display name and the rooms visited, and links to them", async () => {
      const person = await newPerson(browser, null);
      const page = await person.newPage();
      await page.goto(`${server.url}/`);
      assert.equal(await page.locator("#recent-rooms").isVisible(), false);
      await page.locator("#display-name-input").fill("  Zoë  ");
      const first = uniqueRoom("first");
      const second = "café ☕";
      for (const room of [first, second]) {
        await page.goto(`${server.url}/`);
        await page.locator("#room-name-input").fill(room);
        await page.keyboard.press("Enter");
        await page.locator('#connection-status[data-state="live"]').waitFor();
        assert.equal(await page.locator("#my-name").textContent(), "Zoë");
      }

      await page.goto(`${server.url}/chat/`);
      assert.equal(await page.locator("#display-name-input").inputValue(), "Zoë");
      assert.deepEqual(await page.locator("#recent-room-list a").allTextContents(), [
        second,
        first,
      ]);
      await page.locator("#recent-room-list a", { hasText: first }).click();
      await page.waitForURL(roomUrl(server.url, first));

      await page.goto(`${server.url}/`);
      await page.locator("#recent-rooms-clear").click();
      assert.equal(await page.locator("#recent-rooms").isVisible(), false);
      await person.close();
    });

    it("fits a phone screen and takes the README's screenshots", async () => {
      const room = "design-review";
      const messages: [string, string][] = [
        ["Ada", "Morning! Is the new lobby live yet?"],
        ["Grace", "Deployed 5 minutes ago. Try it on your phone too 📱"],
        ["Grace", "Reconnects by itself if the network drops, and nothing is lost."],
        ["Ada", "Just tried it in 技术交流 — Unicode room names work 🎉"],
      ];
      const ada = await newPerson(browser, "Ada");
      const grace = await newPerson(browser, "Grace");
      const phone = await newPerson(browser, "Linus", { width: 390, height: 760 });

      // The lobby, with a few recent rooms.
      const lobby = await ada.newPage();
      for (const r of ["技术交流", "general", room]) {
        await lobby.goto(roomUrl(server.url, r));
        await lobby.locator('#connection-status[data-state="live"]').waitFor();
      }
      await lobby.goto(`${server.url}/`);
      await lobby.locator("#recent-room-list a").first().waitFor();
      if (options.screenshots)
        await lobby.screenshot({ path: screenshotPath("lobby.png"), fullPage: true });
      await lobby.close();

      const a = await openRoom(ada, server.url, room);
      const g = await openRoom(grace, server.url, room);
      const p = await openRoom(phone, server.url, room);
      for (const [who, text] of messages) {
        await say(who === "Ada" ? a : g, text);
        await waitForTexts(p, [text]);
      }
      await inject(server, room, "Build #128 passed on main ✅", "ci");
      const all = [...messages.map(([, t]) => t), "Build #128 passed on main ✅"];
      await waitForTexts(a, all);
      await waitForMembers(a, ["Ada", "Grace", "Linus"]);
      if (options.screenshots) await a.screenshot({ path: screenshotPath("room.png") });

      // Phone width: nothing wider than the screen, the composer on screen, members folded.
      await waitForTexts(p, all);
      const overflow = await p.evaluate(
        () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
      );
      assert.equal(overflow, 0, "no horizontal scrolling at 390px");
      assert.equal(await p.locator("#chat-message-submit").isVisible(), true);
      const box = await p.locator("#chat-message-input").boundingBox();
      assert.ok(box && box.y + box.height <= 760, "composer is on screen");
      assert.equal(await p.locator("#member-list").isVisible(), false, "members folded on phones");
      if (options.screenshots) await p.screenshot({ path: screenshotPath("room-phone.png") });

      for (const ctx of [ada, grace, phone]) await ctx.close();
    });
  });
}
