// The room client as another project meets it: `npm pack` in packages/client,
// the tarball installed into a scratch project outside the repository, a
// small program type-checked against the installed package (strict, nodenext
// and bundler resolution) and run with Node 22 against `npm run dev` in a
// copy of the project: join, send, presence, resume with since. The React
// example in packages/client/README.md is type-checked there too, with
// @types/react installed in the scratch project only: React's real types
// (hook generics, event types) rather than a hand-written stand-in that
// could accept code React would not, and React a dependency of nothing here.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { PROJECT_ROOT, startProjectCopy, type ProjectCopy } from "../scripts/dev-server.ts";

const PACKAGE_DIR = join(PROJECT_ROOT, "packages/client");
const bin = (name: string) => join(PROJECT_ROOT, "node_modules/.bin", name);
const readme = readFileSync(join(PACKAGE_DIR, "README.md"), "utf8");
const reactExample = /```tsx\n([\s\S]*?)```/.exec(readme)?.[1] ?? "";

/** The scratch program: what a user of the package writes. Prints what it saw as JSON. */
const PROGRAM = `
import { RoomClient, type ChatMessage, type PresenceFrame } from "@edge-chat/client";

const [url, room] = process.argv.slice(2) as [string, string];

function until(what: string, ok: () => boolean): Promise<void> {
  const deadline = Date.now() + 20_000;
  return new Promise((done, fail) => {
    const tick = (): void => {
      if (ok()) done();
      else if (Date.now() > deadline) fail(new Error("timed out waiting for " + what));
      else setTimeout(tick, 20);
    };
    tick();
  });
}

const fast = () => 100;
const alice = new RoomClient({ url, room, name: "alice", minReconnectDelayMs: fast });
const aliceChats: ChatMessage[] = [];
const presence: PresenceFrame[] = [];
alice.on("chat", (m) => aliceChats.push(m));
alice.on("frame", (f) => {
  if (f.type === "presence") presence.push(f);
});
await until("alice live", () => alice.state === "live");

const bob = new RoomClient({ url, room, name: "bob", minReconnectDelayMs: fast });
const bobChats: ChatMessage[] = [];
bob.on("chat", (m) => bobChats.push(m));
await until("bob live", () => bob.state === "live");
await until("alice hears of bob", () =>
  presence.some((p) => p.joined.some((m) => m.name === "bob")),
);
const count = presence.at(-1)?.count ?? null;

const clientId = bob.send("hello from bob");
await until("alice gets bob's message", () => aliceChats.length === 1);
await until("bob's echo", () => bob.pending === 0);

// Alice goes away (a laptop lid), bob talks, alice comes back: resume with since.
const sinceBefore = alice.history.since;
alice.pause();
await until("alice away", () => alice.state === "reconnecting");
bob.send("while you were away 1");
bob.send("while you were away 2");
await until("bob's echoes", () => bobChats.length === 3);
const resumeUrl = alice.joinUrl().searchParams.get("since");
alice.reconnectNow();
await until("alice caught up", () => aliceChats.length === 3);
await new Promise((r) => setTimeout(r, 500)); // a duplicate would arrive now

console.log(
  JSON.stringify({
    me: alice.me,
    count,
    clientId,
    echoedClientId: bobChats[0]?.clientId ?? null,
    sinceBefore,
    resumeUrl,
    alice: aliceChats.map((m) => ({ id: m.id, user: m.user, message: m.message })),
    bob: bobChats.map((m) => ({ id: m.id, user: m.user, message: m.message })),
  }),
);
alice.close();
bob.close();
`;

interface Summary {
  me: { id: string; name: string; verified: boolean } | null;
  count: number | null;
  clientId: string;
  echoedClientId: string | null;
  sinceBefore: number | null;
  resumeUrl: string | null;
  alice: { id: number; user: string; message: string }[];
  bob: { id: number; user: string; message: string }[];
}

function tsc(cwd: string, args: string[]): void {
  try {
    execFileSync(bin("tsc"), args, { cwd, stdio: "pipe", encoding: "utf8" });
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string };
    throw new Error(`tsc ${args.join(" ")} failed:\n${e.stdout ?? ""}${e.stderr ?? ""}`, {
      cause: err,
    });
  }
}

describe("the packed client package in a project of its own", () => {
  const scratch = mkdtempSync(join(tmpdir(), "edge-chat-client-user-"));
  let server: ProjectCopy;
  let tarball = "";

  before(async () => {
    server = await startProjectCopy({ devVars: {} });
  });
  after(async () => {
    await server?.remove();
    rmSync(scratch, { recursive: true, force: true });
    if (tarball) rmSync(tarball, { force: true });
  });

  it("packs to a tarball holding the ESM build, its types and the README, not the sources", () => {
    const out = execFileSync("npm", ["pack", "--json", "--pack-destination", scratch], {
      cwd: PACKAGE_DIR,
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
    });
    const [packed] = JSON.parse(out.slice(out.indexOf("["))) as {
      filename: string;
      files: { path: string }[];
    }[];
    assert.ok(packed);
    tarball = join(scratch, packed.filename);
    const files = packed.files.map((f) => f.path).toSorted();
    for (const f of ["README.md", "dist/index.js", "dist/index.d.ts", "package.json"])
      assert.ok(files.includes(f), `${f} missing from ${files.join(", ")}`);
    assert.deepEqual(
      files.filter((f) => f.startsWith("src/")),
      [],
    );
  });

  it("installs into a scratch project, type-checks a program and the React example", () => {
    assert.ok(tarball, "packed first");
    writeFileSync(
      join(scratch, "package.json"),
      JSON.stringify({ name: "scratch", private: true, type: "module" }),
    );
    execFileSync(
      "npm",
      [
        "install",
        "--no-audit",
        "--no-fund",
        "--prefer-offline",
        tarball,
        "@types/node@22",
        "@types/react@19",
      ],
      { cwd: scratch, stdio: "pipe" },
    );
    const installed = JSON.parse(
      readFileSync(join(scratch, "node_modules/@edge-chat/client/package.json"), "utf8"),
    ) as { dependencies: Record<string, string> };
    assert.deepEqual(Object.keys(installed.dependencies), ["partysocket"]);
    assert.ok(readdirSync(join(scratch, "node_modules")).includes("partysocket"));

    writeFileSync(join(scratch, "app.ts"), PROGRAM);
    const strict = ["--noEmit", "--strict", "--noUncheckedIndexedAccess", "--target", "es2022"];
    tsc(scratch, [...strict, "--module", "nodenext", "--types", "node", "app.ts"]);
    tsc(scratch, [
      ...strict,
      "--module",
      "es2022",
      "--moduleResolution",
      "bundler",
      "--types",
      "node",
      "app.ts",
    ]);

    assert.match(reactExample, /from "@edge-chat\/client"/);
    writeFileSync(join(scratch, "chat-room.tsx"), reactExample);
    tsc(scratch, [
      ...strict,
      "--module",
      "es2022",
      "--moduleResolution",
      "bundler",
      "--jsx",
      "react-jsx",
      "--lib",
      "es2022,dom,dom.iterable",
      "--types",
      "react",
      "chat-room.tsx",
    ]);
  });

  it("runs against npm run dev: join, send, presence, resume with since", () => {
    const room = `package-${crypto.randomUUID().slice(0, 8)}`;
    const out = execFileSync(bin("node"), ["app.ts", server.url, room], {
      cwd: scratch,
      encoding: "utf8",
      timeout: 90_000,
    });
    const seen = JSON.parse(out.trim().split("\n").at(-1) ?? "") as Summary;
    assert.equal(seen.me?.name, "alice");
    assert.equal(seen.me?.verified, false);
    assert.equal(seen.count, 2);
    assert.equal(seen.echoedClientId, seen.clientId);
    const texts = ["hello from bob", "while you were away 1", "while you were away 2"];
    // Each message once, in one order for everyone.
    assert.deepEqual(
      seen.alice.map((m) => m.message),
      texts,
    );
    assert.deepEqual(seen.alice, seen.bob);
    // The resume asked for what came after the last message alice held.
    assert.equal(seen.sinceBefore, seen.alice[0]?.id);
    assert.equal(seen.resumeUrl, String(seen.alice[0]?.id));
  });
});
