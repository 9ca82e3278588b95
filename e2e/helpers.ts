// Shared by the browser tests: Debian's chromium driven by playwright-core,
// a `wrangler dev` per test file (scripts/dev-server.ts), a TCP proxy that
// can cut and refuse connections, and ways to read what a page shows.
import { mkdirSync } from "node:fs";
import { createServer, connect, type Server, type Socket } from "node:net";
import { join } from "node:path";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import { PROJECT_ROOT, type DevServer } from "../scripts/dev-server.ts";

/**
 * What a shared browser suite (e2e/*-suite.ts) runs against: filled in by
 * the test file's `before`, so one suite runs on a single-object server
 * (chat.test.ts and friends) and again on rooms over relays (relays.test.ts).
 */
export interface Stage {
  server: DevServer;
  browser: Browser;
  /** Starts the stopped server again on the same port and state, with the same token. */
  restart?: () => Promise<DevServer>;
}

export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

export function launchBrowser(): Promise<Browser> {
  // playwright gives every launch a fresh temporary profile (user-data-dir).
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}

/** A person: their own browser profile (storage), with a remembered display name. */
export async function newPerson(
  browser: Browser,
  name: string | null,
  viewport = { width: 1000, height: 700 },
): Promise<BrowserContext> {
  const context = await browser.newContext({ viewport, locale: "en-GB", timezoneId: "UTC" });
  if (name !== null)
    await context.addInitScript((n) => {
      if (localStorage.getItem("chat.displayName") === null)
        localStorage.setItem("chat.displayName", n);
    }, name);
  context.setDefaultTimeout(15_000);
  return context;
}

export function roomUrl(base: string, room: string): string {
  return `${base}/chat/${encodeURIComponent(room)}/`;
}

/** Opens a room page and waits until it says it is live. */
export async function openRoom(context: BrowserContext, base: string, room: string): Promise<Page> {
  const page = await context.newPage();
  const errors: string[] = [];
  page.on("pageerror", (err) => errors.push(err.message));
  pageErrors.set(page, errors);
  await page.goto(roomUrl(base, room));
  await waitForState(page, "live");
  return page;
}

/** Uncaught errors per page: a test can assert there were none. */
export const pageErrors = new WeakMap<Page, string[]>();

export async function waitForState(page: Page, state: string, timeout?: number): Promise<void> {
  await page
    .locator(`#connection-status[data-state="${state}"]`)
    .waitFor({ state: "attached", timeout });
}

/** Types into the autofocused message field and presses Enter, as a person would. */
export async function say(page: Page, text: string): Promise<void> {
  await page.locator("#chat-message-input").fill(text);
  await page.locator("#chat-message-input").press("Enter");
}

export interface Shown {
  id: number;
  user: string;
  text: string;
}

/** The messages a page shows, in order: author, text and id of each. */
export function shown(page: Page): Promise<Shown[]> {
  return page.$$eval("#chat-log li.msg", (items) =>
    items.map((li) => ({
      id: Number((li as HTMLElement).dataset.id),
      user: li.querySelector(".author")?.textContent ?? "",
      text: li.querySelector(".text")?.textContent ?? "",
    })),
  );
}

/** Waits until the page shows every one of `texts` (as whole message texts). */
export async function waitForTexts(page: Page, texts: string[], timeout = 20_000): Promise<void> {
  try {
    await page.waitForFunction(
      (wanted) => {
        const have = new Set(
          Array.from(document.querySelectorAll("#chat-log li.msg .text"), (el) => el.textContent),
        );
        return wanted.every((t) => have.has(t));
      },
      texts,
      { timeout },
    );
  } catch (err) {
    const have = (await shown(page)).map((m) => m.text);
    throw new Error(
      `page never showed ${JSON.stringify(texts)}; it shows ${JSON.stringify(have)}`,
      { cause: err },
    );
  }
}

/** Waits until the member list shows exactly these names (in any order). */
export async function waitForMembers(page: Page, names: string[]): Promise<void> {
  const want = names.toSorted();
  try {
    await page.waitForFunction(
      (expected) => {
        const got = Array.from(
          document.querySelectorAll("#member-list .member-name"),
          (el) => el.textContent ?? "",
        ).toSorted();
        return JSON.stringify(got) === JSON.stringify(expected);
      },
      want,
      { timeout: 15_000 },
    );
  } catch (err) {
    const got = await page.$$eval("#member-list .member-name", (els) =>
      els.map((el) => el.textContent),
    );
    throw new Error(`members: wanted ${JSON.stringify(want)}, shown ${JSON.stringify(got)}`, {
      cause: err,
    });
  }
}

/** Posts through the inject API, as a script or CI job would. */
export async function inject(
  server: DevServer,
  room: string,
  message: string,
  user?: string,
): Promise<number> {
  const res = await fetch(`${server.url}/api/rooms/${encodeURIComponent(room)}/messages`, {
    method: "POST",
    headers: { Authorization: `Bearer ${server.token}`, "Content-Type": "application/json" },
    body: JSON.stringify(user === undefined ? { message } : { message, user }),
  });
  if (res.status !== 201) throw new Error(`inject: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { id: number }).id;
}

export function uniqueRoom(prefix: string): string {
  return `${prefix}-${crypto.randomUUID().slice(0, 8)}`;
}

/**
 * Where screenshots go: docs/ when UPDATE_SCREENSHOTS=1 (to refresh the
 * pictures in README.md and docs/browser.md), else test-results/ so ordinary runs leave the tree clean.
 */
export function screenshotPath(file: string): string {
  const dir =
    process.env.UPDATE_SCREENSHOTS === "1"
      ? join(PROJECT_ROOT, "docs")
      : join(PROJECT_ROOT, "test-results");
  mkdirSync(dir, { recursive: true });
  return join(dir, file);
}

/**
 * A TCP proxy in front of the dev server: pages load through it, so a test
 * can cut every open connection (a network drop) and refuse new ones until
 * it allows them again (the server is unreachable meanwhile).
 */
export class CuttableProxy {
  readonly #server: Server;
  readonly #open = new Set<Socket>();
  #refusing = false;
  #droppingReplies = false;
  readonly targetPort: number;
  port = 0;

  constructor(targetPort: number) {
    this.targetPort = targetPort;
    this.#server = createServer((client) => {
      if (this.#refusing) {
        client.destroy();
        return;
      }
      const upstream = connect(this.targetPort, "127.0.0.1");
      for (const s of [client, upstream]) {
        this.#open.add(s);
        s.on("close", () => {
          this.#open.delete(s);
          client.destroy();
          upstream.destroy();
        });
        s.on("error", () => s.destroy());
      }
      client.pipe(upstream);
      upstream.on("data", (chunk: Buffer) => {
        if (!this.#droppingReplies) client.write(chunk);
      });
    });
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<this> {
    await new Promise<void>((done) => this.#server.listen(0, "127.0.0.1", done));
    this.port = (this.#server.address() as { port: number }).port;
    return this;
  }

  /** Drops every open connection and refuses new ones until `allow()`. */
  cut(): void {
    this.#refusing = true;
    for (const s of this.#open) s.destroy();
  }

  allow(): void {
    this.#refusing = false;
    this.#droppingReplies = false;
  }

  /**
   * Passes what pages send but drops what the server answers, until `cut()`:
   * messages are stored but their echoes never arrive, as when a link dies
   * right after a send.
   */
  dropReplies(): void {
    this.#droppingReplies = true;
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((done) => this.#server.close(() => done()));
  }
}
