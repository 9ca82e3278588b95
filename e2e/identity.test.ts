// A verified member and a guest who took the same name, each in their own
// browser, on a server started the way the README says (`npm run dev` in a
// copy of the project, JOIN_SECRET in .dev.vars). Each page must show who is
// who: the verified mark, "mine" by member id, and the guest flagged.
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { after, before, describe, it } from "node:test";
import type { Browser, Page } from "playwright-core";
import { startProjectCopy, type ProjectCopy } from "../scripts/dev-server.ts";
import {
  launchBrowser,
  newPerson,
  openRoom,
  pageErrors,
  roomUrl,
  say,
  uniqueRoom,
  waitForState,
  waitForTexts,
} from "./helpers.ts";

const JOIN_SECRET = `e2e-identity-${crypto.randomUUID()}`;
let server: ProjectCopy;
let browser: Browser;

before(async () => {
  [server, browser] = await Promise.all([
    startProjectCopy({ devVars: { JOIN_SECRET } }),
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

interface Seen {
  text: string;
  author: string;
  mine: boolean;
  verified: boolean;
  /** The visible "not verified" warning. */
  flagged: boolean;
}

/** What a page shows about each message: who, and the marks a person sees. */
function messages(page: Page): Promise<Seen[]> {
  return page.$$eval("#chat-log li.msg", (items) =>
    items.map((li) => {
      const visible = (sel: string) => {
        const el = li.querySelector<HTMLElement>(sel);
        return el !== null && el.offsetParent !== null && !el.hidden;
      };
      return {
        text: li.querySelector(".text")?.textContent ?? "",
        author: li.querySelector(".author")?.textContent ?? "",
        mine: li.classList.contains("mine"),
        verified: visible(".verified-badge"),
        flagged: visible(".namesake"),
      };
    }),
  );
}

interface Listed {
  name: string;
  you: boolean;
  verified: boolean;
  flagged: boolean;
}

function memberList(page: Page): Promise<Listed[]> {
  return page.$$eval("#member-list li", (items) =>
    items.map((li) => ({
      name: li.querySelector(".member-name")?.textContent ?? "",
      you: li.querySelector(".you") !== null,
      verified: li.querySelector(".verified-badge") !== null,
      flagged: li.querySelector(".namesake") !== null,
    })),
  );
}

async function waitForMemberCount(page: Page, n: number): Promise<void> {
  await page.waitForFunction(
    (count) => document.querySelectorAll("#member-list li").length === count,
    n,
  );
}

const byText = (list: Seen[], text: string) => list.find((m) => m.text === text);
const sortByVerified = (l: Listed[]) => l.toSorted((a, b) => +b.verified - +a.verified);

describe("a verified member and a guest with the same name", () => {
  it("each page shows who is who: verified mark, 'mine' by id, the guest flagged", async () => {
    const room = uniqueRoom("namesakes");
    const aliceContext = await newPerson(browser, null);
    const aliceToken = joinToken({ sub: "user-alice", name: "Alice", room });
    const alice = await aliceContext.newPage();
    await alice.goto(`${roomUrl(server.url, room)}?token=${aliceToken}`);
    await waitForState(alice, "live");
    // The guest's own browser remembers "Alice" as their chosen name.
    const guestContext = await newPerson(browser, "Alice");
    const guest = await openRoom(guestContext, server.url, room);

    await say(alice, "I am the real Alice");
    await waitForTexts(guest, ["I am the real Alice"]);
    await say(guest, "No, I am Alice");
    await waitForTexts(alice, ["No, I am Alice"]);
    await Promise.all([waitForMemberCount(alice, 2), waitForMemberCount(guest, 2)]);

    const onAlice = await messages(alice);
    assert.deepEqual(byText(onAlice, "I am the real Alice"), {
      text: "I am the real Alice",
      author: "Alice",
      mine: true,
      verified: true,
      flagged: false,
    });
    assert.deepEqual(byText(onAlice, "No, I am Alice"), {
      text: "No, I am Alice",
      author: "Alice",
      mine: false,
      verified: false,
      flagged: true,
    });

    const onGuest = await messages(guest);
    assert.deepEqual(byText(onGuest, "I am the real Alice"), {
      text: "I am the real Alice",
      author: "Alice",
      mine: false,
      verified: true,
      flagged: false,
    });
    assert.deepEqual(byText(onGuest, "No, I am Alice"), {
      text: "No, I am Alice",
      author: "Alice",
      mine: true,
      verified: false,
      flagged: true,
    });

    // Two entries named Alice, told apart; "(you)" on the right one.
    assert.deepEqual(sortByVerified(await memberList(alice)), [
      { name: "Alice", you: true, verified: true, flagged: false },
      { name: "Alice", you: false, verified: false, flagged: true },
    ]);
    assert.deepEqual(sortByVerified(await memberList(guest)), [
      { name: "Alice", you: false, verified: true, flagged: false },
      { name: "Alice", you: true, verified: false, flagged: true },
    ]);

    // Alice's name comes from her token: her page offers no name field; the guest's does.
    assert.equal(await alice.locator("#display-name-input").isVisible(), false);
    assert.equal(await guest.locator("#display-name-input").isVisible(), true);

    // The guest's message is never drawn as a continuation of Alice's.
    const continued = await alice.$$eval("#chat-log li.msg.cont .text", (els) =>
      els.map((el) => el.textContent),
    );
    assert.ok(!continued.includes("No, I am Alice"), `continuations: ${continued}`);

    // After a reload the guest's own message is still theirs (same browser,
    // same member id), and still not the verified Alice's.
    await guest.reload();
    await waitForState(guest, "live");
    await waitForTexts(guest, ["No, I am Alice"]);
    const reloaded = await messages(guest);
    assert.equal(byText(reloaded, "No, I am Alice")?.mine, true);
    assert.equal(byText(reloaded, "I am the real Alice")?.mine, false);

    // A look-alike name (Cyrillic а) is flagged as well.
    const lookalikeContext = await newPerson(browser, "\u0430lice");
    const lookalike = await openRoom(lookalikeContext, server.url, room);
    await say(lookalike, "alice here, honest");
    await waitForTexts(alice, ["alice here, honest"]);
    await waitForMemberCount(alice, 3);
    assert.deepEqual(byText(await messages(alice), "alice here, honest"), {
      text: "alice here, honest",
      author: "\u0430lice",
      mine: false,
      verified: false,
      flagged: true,
    });
    const entry = (await memberList(alice)).find((m) => m.name === "\u0430lice");
    assert.deepEqual(entry, { name: "\u0430lice", you: false, verified: false, flagged: true });

    assert.deepEqual(pageErrors.get(guest) ?? [], []);
    await Promise.all([aliceContext.close(), guestContext.close(), lookalikeContext.close()]);
  });
});
