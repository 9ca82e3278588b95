// The `npm run post` CLI against a real `wrangler dev`, as a user runs it.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { after, before, describe, it } from "node:test";
import { WebSocket } from "ws";
import { freePort, PROJECT_ROOT, startDevServer, type DevServer } from "../scripts/dev-server.ts";

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function post(args: string[], env: Record<string, string>, stdin?: string): Promise<Run> {
  return new Promise((done) => {
    const child = spawn(process.execPath, ["scripts/post.ts", ...args], {
      cwd: PROJECT_ROOT,
      env: { ...process.env, ...env },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.stdin.end(stdin ?? "");
    child.on("exit", (code) => done({ code, stdout, stderr }));
  });
}

function listen(
  url: string,
  room: string,
): Promise<{ frames: { message: string; user: string }[]; ws: WebSocket }> {
  return new Promise((done, fail) => {
    const ws = new WebSocket(`${url.replace("http", "ws")}/ws/chat/${encodeURIComponent(room)}/`);
    const frames: { message: string; user: string }[] = [];
    ws.on("message", (data) => frames.push(JSON.parse(String(data))));
    ws.on("open", () => done({ frames, ws }));
    ws.on("error", fail);
  });
}

async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe("npm run post", () => {
  let server: DevServer;
  let env: Record<string, string>;

  before(async () => {
    server = await startDevServer();
    env = { CHAT_URL: server.url, BROADCAST_TOKEN: server.token! };
  });
  after(() => server?.stop());

  it("posts a message that reaches a listener and prints the JSON reply", async () => {
    const listener = await listen(server.url, "lobby");
    try {
      const run = await post(["lobby", "hello", "--user", "ci"], env);
      assert.equal(run.code, 0, run.stderr);
      const reply = JSON.parse(run.stdout);
      assert.equal(typeof reply.id, "number");
      assert.equal(reply.delivered, 1);
      await until(() => listener.frames.some((f) => f.message === "hello"), "the message");
      assert.equal(listener.frames.find((f) => f.message === "hello")!.user, "ci");
    } finally {
      listener.ws.close();
    }
  });

  it("reads the message from stdin when it is '-'", async () => {
    const listener = await listen(server.url, "技术交流");
    try {
      const run = await post(["技术交流", "-"], env, "第一行\nsecond line\n");
      assert.equal(run.code, 0, run.stderr);
      await until(
        () => listener.frames.some((f) => f.message === "第一行\nsecond line"),
        "the piped message",
      );
    } finally {
      listener.ws.close();
    }
  });

  const failures: [string, string[], Record<string, string>, RegExp][] = [
    ["a wrong token", ["lobby", "hi"], { BROADCAST_TOKEN: "wrong" }, /^post: unauthorized \(401\)/],
    ["an empty message", ["lobby", ""], {}, /^post: rejected \(400\): Message is empty/],
    ["an invalid room", ["a/b", "hi"], {}, /^post: rejected \(400\): invalid room/],
    [
      "a message over MAX_MESSAGE_CHARS",
      ["lobby", "x".repeat(2001)],
      {},
      /^post: rejected \(400\): Message is longer/,
    ],
    ["a missing message", ["lobby"], {}, /^post: expected a room and one message/],
  ];
  for (const [what, args, extra, reason] of failures) {
    it(`exits non-zero with one line of reason for ${what}`, async () => {
      const run = await post(args, { ...env, ...extra });
      assert.equal(run.code, 1);
      assert.match(run.stderr, reason);
      assert.equal(run.stdout, "");
    });
  }

  it("exits non-zero with one line of reason for a body over 256 KiB (413)", async () => {
    // Through stdin: one command-line argument cannot be that long.
    const run = await post(["lobby", "-"], env, "x".repeat(300_000));
    assert.equal(run.code, 1);
    assert.match(
      run.stderr,
      /^post: too large \(413\): request body is larger than 262144 bytes$/m,
    );
    assert.equal(run.stdout, "");
  });

  it("explains a server that has no BROADCAST_TOKEN (503)", async () => {
    const open = await startDevServer({ token: null });
    try {
      const run = await post(["lobby", "hi"], { CHAT_URL: open.url, BROADCAST_TOKEN: "anything" });
      assert.equal(run.code, 1);
      assert.match(run.stderr, /^post: unavailable \(503\): .*BROADCAST_TOKEN is not configured/);
    } finally {
      await open.stop();
    }
  });

  it("retries a refused connection, then says the server cannot be reached", async () => {
    const port = await freePort();
    const run = await post(["lobby", "hi"], {
      CHAT_URL: `http://127.0.0.1:${port}`,
      BROADCAST_TOKEN: "t",
    });
    assert.equal(run.code, 1);
    assert.match(run.stderr, /connection refused, retrying \(1\)/);
    assert.match(
      run.stderr.trim().split("\n").at(-1)!,
      /^post: cannot reach .* \(connection refused\): is the server running\?$/,
    );
  });
});
