import { describe, expect, it } from "vitest";
import { request, uniqueRoom, wsPath } from "./helpers";

async function page(path: string): Promise<{ status: number; headers: Headers; html: string }> {
  const res = await request(path);
  return { status: res.status, headers: res.headers, html: await res.text() };
}

describe("pages", () => {
  it.each(["/", "/chat/"])(
    "serves the lobby at %s with the tutorial's ids and a strict CSP",
    async (path) => {
      const { status, headers, html } = await page(path);
      expect(status).toBe(200);
      expect(headers.get("Content-Type")).toMatch(/^text\/html/);
      expect(html).toContain('id="room-name-input"');
      expect(html).toContain('id="room-name-submit"');
      const csp = headers.get("Content-Security-Policy")!;
      expect(csp).toMatch(/default-src 'none'/);
      expect(csp).toMatch(/script-src 'self'(;|$)/);
      expect(csp).toMatch(/frame-ancestors 'none'/);
      expect(headers.get("X-Content-Type-Options")).toBe("nosniff");
      expect(html).not.toMatch(/<script>(?!<\/script>)/);
    },
  );

  it("serves the moderator console with the same headers as the room page, and no data in it", async () => {
    const room = await page(`/chat/lobby/`);
    const consolePage = await page("/console/");
    expect(consolePage.status).toBe(200);
    for (const name of [
      "Content-Security-Policy",
      "X-Frame-Options",
      "X-Content-Type-Options",
      "Referrer-Policy",
    ])
      expect({ name, value: consolePage.headers.get(name) }).toEqual({
        name,
        value: room.headers.get(name),
      });
    expect(consolePage.html).toContain('<script src="/client/console.js" defer></script>');
    expect(consolePage.html).toContain('id="console-token"');
    expect(consolePage.html).toMatch(/type="password"/);
    expect(consolePage.html).not.toMatch(/<script>(?!<\/script>)/);
    expect((await request("/console", { redirect: "manual" })).headers.get("Location")).toMatch(
      /\/console\/$/,
    );
  });

  it("serves a room page whose title and heading carry the Unicode room name as text", async () => {
    const { status, headers, html } = await page(`/chat/${encodeURIComponent("技术交流")}/`);
    expect(status).toBe(200);
    expect(headers.get("Content-Security-Policy")).toMatch(/connect-src 'self'/);
    expect(html).toContain("<title>技术交流 · Edge chat</title>");
    for (const id of ["chat-log", "chat-message-input", "chat-message-submit"])
      expect(html).toContain(`id="${id}"`);
    expect(html).toMatch(/id="chat-log"[^>]*aria-live="polite"/);
  });

  it("escapes a room name that looks like markup", async () => {
    const { status, html } = await page(
      `/chat/${encodeURIComponent("<img src=x onerror=alert(1)>")}/`,
    );
    expect(status).toBe(200);
    expect(html).not.toContain("<img src=x");
    expect(html).toContain("&lt;img src=x onerror=alert(1)&gt;");
  });

  it.each(["a%2Fb", "100%", "%00"])(
    "answers the invalid room %s with a 400 page that says why",
    async (segment) => {
      const { status, headers, html } = await page(`/chat/${segment}/`);
      expect(status).toBe(400);
      expect(headers.get("Content-Type")).toMatch(/^text\/html/);
      expect(html).toMatch(/That room name doesn(&#39;|')t work/);
    },
  );

  it("leaves the WebSocket upgrade's 101 response without page headers", async () => {
    const res = await request(wsPath(uniqueRoom()), { headers: { Upgrade: "websocket" } });
    expect(res.status).toBe(101);
    expect(res.headers.get("Content-Security-Policy")).toBeNull();
    res.webSocket!.accept();
    res.webSocket!.close();
  });
});
