// The moderator's console (/console/) in a real browser, on a server started
// the way the README says (`npm run dev` in a copy of the project, the
// moderator credential BROADCAST_TOKEN in .dev.vars), with members who are
// plain `ws` sockets as scripts and the tutorial's client would be.
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { after, before, describe, it } from "node:test";
import type { Browser, Page } from "playwright-core";
import { WebSocket } from "ws";
import { openSocket } from "../test-node/open-socket.ts";
import { startProjectCopy, type ProjectCopy } from "../scripts/dev-server.ts";
import {
  inject,
  launchBrowser,
  newPerson,
  pageErrors,
  screenshotPath,
  uniqueRoom,
} from "./helpers.ts";

const BROADCAST_TOKEN = `e2e-console-${crypto.randomUUID()}`;
const JOIN_SECRET = `e2e-console-join-${crypto.randomUUID()}`;
let server: ProjectCopy;
let browser: Browser;

before(async () => {
  [server, browser] = await Promise.all([
    startProjectCopy({ devVars: { BROADCAST_TOKEN, JOIN_SECRET } }),
    launchBrowser(),
  ]);
});

after(async () => {
  await browser?.close();
  await server?.remove();
});

const part = (o: object) => Buffer.from(JSON.stringify(o)).toString("base64url");

/** A join token as the README's backend would mint it (HS256 JWT). */
function joinToken(claims: { sub: string; name: string; room: string }): string {
  const exp = Math.floor(Date.now() / 1000) + 600;
  const body = `${part({ alg: "HS256", typ: "JWT" })}.${part({ ...claims, exp })}`;
  return `${body}.${createHmac("sha256", JOIN_SECRET).update(body).digest("base64url")}`;
}

/**
 * A member as a script joins: a bare `ws` socket, a guest (`?guest=` keeps
 * its member id) or, with `token`, a verified member.
 */
async function member(room: string, name: string, token?: string) {
  const url = new URL(`/ws/chat/${encodeURIComponent(room)}/`, server.url.replace("http", "ws"));
  url.searchParams.set("name", name);
  if (token === undefined) url.searchParams.set("guest", crypto.randomUUID());
  else url.searchParams.set("token", token);
  const ws = await openSocket(url.href, name);
  const chats: { message: string; user: string }[] = [];
  ws.on("message", (data) => {
    for (const line of String(data).split("\n")) chats.push(JSON.parse(line));
  });
  const closed = new Promise<{ code: number; reason: string }>((done) =>
    ws.once("close", (code, reason) => done({ code, reason: String(reason) })),
  );
  return { ws, chats, closed, url };
}

function closedWithin(
  closed: Promise<{ code: number; reason: string }>,
  ms = 15_000,
): Promise<{ code: number; reason: string }> {
  return Promise.race([
    closed,
    new Promise<never>((_, fail) =>
      setTimeout(() => fail(new Error("the member's socket was not closed")), ms),
    ),
  ]);
}

/** Opens the console and signs in to `room` with `token`, as a moderator types it. */
async function signIn(page: Page, token: string, room: string): Promise<void> {
  await page.goto(`${server.url}/console/`);
  await page.locator("#console-token").fill(token);
  await page.locator("#console-room").fill(room);
  await page.locator("#console-open").click();
}

async function openConsole(room: string, viewport?: { width: number; height: number }) {
  const context = await newPerson(browser, null, viewport);
  const page = await context.newPage();
  const errors: string[] = [];
  page.on("pageerror", (err) => errors.push(err.message));
  pageErrors.set(page, errors);
  await signIn(page, BROADCAST_TOKEN, room);
  await page.locator("#console-room-view").waitFor({ state: "visible" });
  return { context, page };
}

/** The member entry the console shows for `name`. */
const entry = (page: Page, name: string) =>
  page.locator("#console-members li").filter({
    has: page.locator(".member-name", { hasText: new RegExp(`^${name}$`) }),
  });

describe("the moderator console", () => {
  it("refuses a wrong credential and keeps it nowhere", async () => {
    const context = await newPerson(browser, null);
    const page = await context.newPage();
    const res = await page.goto(`${server.url}/console/`);
    // The same headers as the other pages.
    const csp = res?.headers()["content-security-policy"] ?? "";
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /script-src 'self'/);
    assert.equal(res?.headers()["x-frame-options"], "DENY");

    await signIn(page, "not-the-token", uniqueRoom("console"));
    await page
      .locator("#console-login-error")
      .filter({ hasText: /refused/ })
      .waitFor();
    assert.match(
      (await page.locator("#console-login-error").textContent()) ?? "",
      /credential was refused \(HTTP 401\)/,
    );
    assert.equal(await page.locator("#console-room-view").isVisible(), false);
    assert.deepEqual(
      await page.evaluate(() => [sessionStorage.length, localStorage.length]),
      [0, 0],
    );
    assert.doesNotMatch(page.url(), /not-the-token/);
    await context.close();
  });

  it("shows members and messages live, posts as the room, and a kick closes the member with 4001", async () => {
    const room = uniqueRoom("console");
    const mallory = await member(room, "mallory");
    const { context, page } = await openConsole(room);
    // The credential is kept for this tab only, never in the URL.
    assert.deepEqual(
      await page.evaluate(() => [sessionStorage.getItem("console.token"), localStorage.length]),
      [BROADCAST_TOKEN, 0],
    );
    assert.doesNotMatch(page.url(), new RegExp(BROADCAST_TOKEN));

    await entry(page, "mallory").waitFor();
    assert.match((await entry(page, "mallory").textContent()) ?? "", /guest.*1 socket/);
    assert.equal(await page.locator("#console-member-count").textContent(), "1");

    // Messages as they arrive: from a member, and from the API. Markup is text.
    mallory.ws.send(JSON.stringify({ message: "<img src=x onerror=alert(1)> buy now" }));
    const log = page.locator("#console-log li .text");
    await log.filter({ hasText: "buy now" }).waitFor();
    await inject(server, room, "from a script", "ci");
    await log.filter({ hasText: "from a script" }).waitFor();
    assert.deepEqual(await log.allTextContents(), [
      "<img src=x onerror=alert(1)> buy now",
      "from a script",
    ]);
    assert.equal(await page.locator("#console-log img").count(), 0);
    // The chart has both lines and counts the messages just sent.
    await page.waitForFunction(
      () => Number(document.getElementById("console-rate")?.textContent) > 0,
    );
    assert.equal(await page.locator("#console-chart path.line").count(), 2);

    // Post as the room: the member receives it, the console shows the API's answer.
    await page.locator("#console-post-message").fill("please keep it civil");
    await page.locator("#console-post-submit").click();
    await page.locator("#console-answer").filter({ hasText: "HTTP 201" }).waitFor();
    await log.filter({ hasText: "please keep it civil" }).waitFor();
    assert.ok(
      mallory.chats.some((c) => c.message === "please keep it civil" && c.user === "moderator"),
    );

    // Kick, after a confirmation that can be cancelled.
    await entry(page, "mallory").locator("button.kick").click();
    assert.match(
      (await page.locator("#console-confirm-text").textContent()) ?? "",
      /Kick mallory \(guest, 1 socket\)/,
    );
    await page.locator("#console-confirm-no").click();
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(mallory.ws.readyState, WebSocket.OPEN, "cancel kicks nobody");
    assert.equal(await page.locator("#console-confirm").isVisible(), false);

    await entry(page, "mallory").locator("button.kick").click();
    await page.locator("#console-confirm-yes").click();
    const closed = await closedWithin(mallory.closed);
    assert.equal(closed.code, 4001);
    await page.locator("#console-answer").filter({ hasText: "HTTP 200" }).waitFor();
    assert.match(
      (await page.locator("#console-answer").textContent()) ?? "",
      /"disconnected":1,"bannedUntil":null/,
    );
    await entry(page, "mallory").waitFor({ state: "detached" });
    assert.deepEqual(pageErrors.get(page), []);
    await context.close();
  });

  it("bans for the chosen time: the member is closed with 4003 and cannot come back", async () => {
    const room = uniqueRoom("console-ban");
    // Bans bind verified identities today (docs/identity.md#moderation): a
    // member with a join token, whom a ban keeps out when they come back.
    const troll = await member(room, "troll", joinToken({ sub: "u-troll", name: "troll", room }));
    troll.ws.send(JSON.stringify({ message: "first!!!" }));
    const { context, page } = await openConsole(room);
    await page.locator("#console-log li .text", { hasText: "first!!!" }).waitFor();
    assert.match((await entry(page, "troll").textContent()) ?? "", /verified/);
    await entry(page, "troll").locator("button.ban").click();
    await page.locator("#console-ban-seconds").selectOption("3600");
    const asked = Date.now();
    await page.locator("#console-confirm-yes").click();
    assert.equal((await closedWithin(troll.closed)).code, 4003);
    await page.locator("#console-answer").filter({ hasText: "HTTP 200" }).waitFor();
    const answer = (await page.locator("#console-answer").textContent()) ?? "";
    const until = Date.parse(/"bannedUntil":"([^"]+)"/.exec(answer)?.[1] ?? "");
    assert.ok(
      Math.abs(until - (asked + 3600_000)) < 60_000,
      `banned until ${new Date(until).toISOString()}, asked at ${new Date(asked).toISOString()}`,
    );
    // The same member (same token) is refused while the ban lasts.
    await assert.rejects(openSocket(troll.url.href, "troll again"), /HTTP 403/);
    await context.close();
  });

  it("kicks a member who joined and never sent a frame: the close reaches it, messages stop", async () => {
    const room = uniqueRoom("console-lurker");
    const lurker = await member(room, "lurker");
    const { context, page } = await openConsole(room);
    await entry(page, "lurker").locator("button.kick").click();
    await page.locator("#console-confirm-yes").click();
    await page.locator("#console-answer").filter({ hasText: "HTTP 200" }).waitFor();
    // Under `npm run dev` the TCP teardown of a socket that never sent a
    // frame can lag, and `ws` fires "close" only after it; the close frame
    // itself arrives at once (readyState CLOSING), and nothing after it.
    const deadline = Date.now() + 5000;
    while (lurker.ws.readyState === WebSocket.OPEN && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 50));
    assert.notEqual(lurker.ws.readyState, WebSocket.OPEN, "still open 5 s after the kick");
    await inject(server, room, "after the kick", "ci");
    await page.locator("#console-log li .text", { hasText: "after the kick" }).waitFor();
    assert.deepEqual(
      lurker.chats.map((c) => c.message),
      [],
    );
    lurker.ws.terminate();
    await context.close();
  });

  it("is usable on a phone: one column, no sideways scrolling, kick within reach", async () => {
    const room = uniqueRoom("console-phone");
    const alice = await member(room, "alice");
    const bob = await member(room, "bob");
    bob.ws.send(JSON.stringify({ message: "hi alice" }));
    alice.ws.send(JSON.stringify({ message: "hello bob, how are you?" }));
    const { context, page } = await openConsole(room, { width: 390, height: 844 });
    await entry(page, "bob").waitFor();
    await page.locator("#console-log li").nth(1).waitFor();
    assert.ok(
      await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth),
      "the page scrolls sideways",
    );
    const box = await entry(page, "bob").locator("button.kick").boundingBox();
    assert.ok(box && box.x + box.width <= 390 && box.height >= 24, JSON.stringify(box));
    await page.screenshot({ path: screenshotPath("console-phone.png"), fullPage: false });
    await entry(page, "bob").locator("button.kick").click();
    await page.locator("#console-confirm-yes").click();
    assert.equal((await closedWithin(bob.closed)).code, 4001);
    await context.close();
    alice.ws.close();
  });

  it("keeps the tab signed in across a reload, and forgets the credential on sign out", async () => {
    const room = uniqueRoom("console-reload");
    const { context, page } = await openConsole(room, { width: 1100, height: 820 });
    // A short conversation, spread out so the chart has a shape.
    const people: Awaited<ReturnType<typeof member>>[] = [];
    const lines: [number, string][] = [
      [0, "morning all"],
      [1, "hi ana"],
      [0, "did the deploy go out?"],
      [2, "yes, 10 minutes ago"],
      [1, "looks good from here"],
      [2, "<b>free coins</b> at my site"],
    ];
    for (const [who, text] of lines) {
      const name = ["ana", "bea", "cai"][who]!;
      people[who] ??= await member(room, name);
      people[who].ws.send(JSON.stringify({ message: text }));
      await page.waitForTimeout(700);
    }
    await inject(server, room, "deploy finished", "ci");
    await page.locator("#console-log li").nth(lines.length).waitFor();
    await entry(page, "cai").waitFor();
    await page.waitForTimeout(2100); // a members sample after the last join
    await page.locator("#console-window").selectOption("1");
    assert.ok((await page.locator("#console-chart text").allTextContents()).includes("−1 min"));
    await page.screenshot({ path: screenshotPath("console.png") });

    await page.reload();
    await page.locator("#console-room-view").waitFor({ state: "visible" });
    await entry(page, "cai").waitFor();
    await page.locator("#console-signout").click();
    await page.locator("#console-login").waitFor({ state: "visible" });
    assert.equal(await page.evaluate(() => sessionStorage.getItem("console.token")), null);
    await context.close();
    for (const p of people) p.ws.close();
  });
});
