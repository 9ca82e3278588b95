// Join tokens and private rooms the way the README tells a user to run them:
// a copy of the project, JOIN_SECRET in its .dev.vars, `npm run dev`. The
// workerd tests inject secrets as bindings and would stay green if wrangler
// stopped passing .dev.vars keys to the Worker; these would not.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createHmac } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { after, before, describe, it } from "node:test";
import { WebSocket } from "ws";
import { PROJECT_ROOT, startProjectCopy, type ProjectCopy } from "../scripts/dev-server.ts";

const JOIN_SECRET = `user-path-${crypto.randomUUID()}`;
const BROADCAST_TOKEN = `broadcast-${crypto.randomUUID()}`;

const part = (o: object) => Buffer.from(JSON.stringify(o)).toString("base64url");

/** A join token as the README's Python example mints it: HS256 over sub, name, room, exp. */
function backendToken(claims: { sub: string; name?: string; room: string }): string {
  const exp = Math.floor(Date.now() / 1000) + 600;
  const body = `${part({ alg: "HS256", typ: "JWT" })}.${part({ ...claims, exp })}`;
  return `${body}.${createHmac("sha256", JOIN_SECRET).update(body).digest("base64url")}`;
}

type Frame = Record<string, unknown> & { type?: string };

interface Joined {
  ws: WebSocket;
  frames: Frame[];
}

/** Opens a rich socket; resolves once joined, or rejects with the refusal's status and body. */
function openSocket(
  url: string,
  room: string,
  query: Record<string, string> = {},
): Promise<Joined> {
  const params = new URLSearchParams({ rich: "1", ...query });
  const ws = new WebSocket(
    `${url.replace("http", "ws")}/ws/chat/${encodeURIComponent(room)}/?${params}`,
  );
  const frames: Frame[] = [];
  ws.on("message", (data) => frames.push(JSON.parse(String(data))));
  return new Promise((done, fail) => {
    ws.on("open", () => done({ ws, frames }));
    ws.on("unexpected-response", (_req, res) => {
      let body = "";
      res.on("data", (d) => (body += d));
      res.on("end", () => fail(Object.assign(new Error(body), { status: res.statusCode, body })));
    });
    ws.on("error", fail);
  });
}

async function until<T>(find: () => T | undefined, what: string): Promise<T> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const found = find();
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function refusal(promise: Promise<Joined>): Promise<{ status: number; error: string }> {
  try {
    const joined = await promise;
    joined.ws.close();
  } catch (err) {
    const { status, body } = err as { status: number; body: string };
    return { status, error: JSON.parse(body).error };
  }
  throw new Error("the socket was accepted");
}

describe("join tokens under `npm run dev` with JOIN_SECRET in .dev.vars", () => {
  let server: ProjectCopy;
  before(async () => {
    // API_MINTS_JOIN_TOKENS is "false" in wrangler.toml; .dev.vars overrides it, as documented.
    server = await startProjectCopy({
      devVars: { BROADCAST_TOKEN, JOIN_SECRET, API_MINTS_JOIN_TOKENS: "true" },
    });
  });
  after(() => server?.remove());

  it("admits a socket with a backend's token under the token's name, verified", async () => {
    const token = backendToken({ sub: "user-42", name: "Alice", room: "lobby" });
    const alice = await openSocket(server.url, "lobby", { token, name: "Mallory" });
    try {
      const welcome = await until(() => alice.frames.find((f) => f.type === "welcome"), "welcome");
      assert.deepEqual(welcome.you, { id: "user-42", name: "Alice", verified: true });
      alice.ws.send(JSON.stringify({ message: "signed hello" }));
      const chat = await until(
        () => alice.frames.find((f) => f.type === "chat" && f.message === "signed hello"),
        "the echo",
      );
      assert.equal(chat.user, "Alice");
      assert.equal(chat.verified, true);
    } finally {
      alice.ws.close();
    }
  });

  it("mints a token through the API (switched on in .dev.vars) that opens the private room it names", async () => {
    const res = await fetch(`${server.url}/api/rooms/private-team/tokens`, {
      method: "POST",
      headers: {
        Authorization: `Bearer ${BROADCAST_TOKEN}`,
        "Content-Type": "application/json",
      },
      body: JSON.stringify({ sub: "user-7", name: "Bob", ttl: 600 }),
    });
    assert.equal(res.status, 201, await res.clone().text());
    const { token } = (await res.json()) as { token: string };

    const bob = await openSocket(server.url, "private-team", { token });
    try {
      const welcome = await until(() => bob.frames.find((f) => f.type === "welcome"), "welcome");
      assert.equal(welcome.room, "private-team");
      assert.deepEqual(welcome.you, { id: "user-7", name: "Bob", verified: true });
    } finally {
      bob.ws.close();
    }
  });

  it("refuses the private room without a token, and a token for another room", async () => {
    const none = await refusal(openSocket(server.url, "private-team"));
    assert.equal(none.status, 401);
    assert.match(none.error, /token/);

    const elsewhere = backendToken({ sub: "user-9", room: "private-other" });
    const wrongRoom = await refusal(openSocket(server.url, "private-team", { token: elsewhere }));
    assert.equal(wrongRoom.status, 403);
    assert.match(wrongRoom.error, /another room/);
  });

  it("keeps the private room's messages from a socket that has no token", async () => {
    const token = backendToken({ sub: "user-1", name: "Carol", room: "private-quiet" });
    const carol = await openSocket(server.url, "private-quiet", { token });
    try {
      carol.ws.send(JSON.stringify({ message: "members only" }));
      await until(() => carol.frames.find((f) => f.message === "members only"), "the echo");
      const refused = await refusal(openSocket(server.url, "private-quiet", { name: "guest" }));
      assert.equal(refused.status, 401);
    } finally {
      carol.ws.close();
    }
  });
});

describe("the documented first deploy", () => {
  it("uploads BROADCAST_TOKEN and JOIN_SECRET from the --secrets-file, by wrangler's own account", async () => {
    const dir = mkdtempSync(join(tmpdir(), "chat-deploy-"));
    try {
      const secrets = join(dir, ".dev.vars.production");
      writeFileSync(
        secrets,
        `BROADCAST_TOKEN="${BROADCAST_TOKEN}"\nJOIN_SECRET="${JOIN_SECRET}"\n`,
      );
      const { stdout } = await promisify(execFile)(
        "npx",
        [
          "wrangler",
          "deploy",
          "--dry-run",
          "--outdir",
          join(dir, "out"),
          "--secrets-file",
          secrets,
        ],
        { cwd: PROJECT_ROOT, env: { ...process.env, WRANGLER_SEND_METRICS: "false" } },
      );
      // wrangler lists every binding it would upload; secrets are shown hidden.
      assert.match(stdout, /env\.BROADCAST_TOKEN \("\(hidden\)"\)/);
      assert.match(stdout, /env\.JOIN_SECRET \("\(hidden\)"\)/);
      assert.doesNotMatch(stdout, new RegExp(JOIN_SECRET));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
