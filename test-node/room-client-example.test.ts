// The "page of your own" example in docs/browser.md must stay true to the room
// client: it is cut out of the docs, type-checked (strict) and bundled with
// esbuild exactly as its first line says, against the workspace package's
// sources (test-node/client-package.test.ts does the same for the packed one).
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { PROJECT_ROOT } from "../scripts/dev-server.ts";

const docs = readFileSync(join(PROJECT_ROOT, "docs/browser.md"), "utf8");
const section = docs.slice(docs.indexOf("## A page of your own"));
const example = /```ts\n([\s\S]*?)```/.exec(section)?.[1] ?? "";

const bin = (name: string) => join(PROJECT_ROOT, "node_modules/.bin", name);

describe("the room client example in docs/browser.md", () => {
  // In the project root, so `@edge-chat/client` resolves to the workspace package.
  const file = join(PROJECT_ROOT, `.example-${process.pid}.ts`);
  const bundle = join(PROJECT_ROOT, `.example-${process.pid}.js`);
  after(() => {
    rmSync(file, { force: true });
    rmSync(bundle, { force: true });
  });

  it("is about ten lines of code and imports the room client", () => {
    const code = example.split("\n").filter((l) => l.trim() !== "" && !l.trim().startsWith("//"));
    assert.ok(code.length > 5 && code.length <= 16, `${code.length} lines:\n${example}`);
    assert.match(example, /from "@edge-chat\/client"/);
  });

  it("type-checks in strict mode and bundles with esbuild", () => {
    writeFileSync(file, example);
    execFileSync(
      bin("tsc"),
      [
        "--noEmit",
        "--strict",
        "--skipLibCheck",
        "--target",
        "es2024",
        "--lib",
        "es2024,dom,dom.iterable",
        "--module",
        "es2022",
        "--moduleResolution",
        "bundler",
        "--allowImportingTsExtensions",
        "--customConditions",
        "@edge-chat/source",
        "--noUncheckedIndexedAccess",
        file,
      ],
      { cwd: PROJECT_ROOT, stdio: "pipe" },
    );
    execFileSync(
      bin("esbuild"),
      [file, "--bundle", "--format=esm", "--conditions=@edge-chat/source", `--outfile=${bundle}`],
      {
        cwd: PROJECT_ROOT,
        stdio: "pipe",
      },
    );
    assert.match(readFileSync(bundle, "utf8"), /ReconnectingWebSocket|reconnect/);
  });
});
