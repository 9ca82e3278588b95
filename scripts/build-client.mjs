#!/usr/bin/env node
// Bundles the browser code in client/ into public/client/ with esbuild.
// wrangler runs it before `wrangler dev` and `wrangler deploy` ([build] in
// wrangler.toml), so the bundle is never committed and never stale.
// Works on Node 20+ (wrangler may run it with whatever `node` is on PATH).
import { build } from "esbuild";
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));

const result = await build({
  absWorkingDir: root,
  entryPoints: ["client/lobby.ts", "client/room.ts", "client/console.ts"],
  outdir: "public/client",
  entryNames: "[name]",
  bundle: true,
  // @edge-chat/client (packages/client, an npm workspace) from its TypeScript
  // sources: nothing to build first, and never a stale dist/.
  conditions: ["@edge-chat/source"],
  // Classic scripts: room.js loads in <head> and must not be a module
  // (modules are deferred, and keys typed before it runs would be lost).
  format: "iife",
  // String#toWellFormed (shared name rules) needs Safari 16.4, Chrome 111, Firefox 119.
  target: ["es2022", "chrome111", "firefox119", "safari16.4"],
  minify: true,
  sourcemap: "linked",
  legalComments: "none",
  logLevel: "warning",
  write: false,
});

// Several `wrangler dev`s may share this tree (tests, benchmarks), each running
// this build and watching public/. So a file is only written when it changed,
// and then atomically: nobody serves or reloads on a half-written bundle.
const sizes = [];
for (const file of result.outputFiles) {
  let same = false;
  try {
    same = readFileSync(file.path).equals(file.contents);
  } catch {
    // not built yet
  }
  if (!same) {
    mkdirSync(dirname(file.path), { recursive: true });
    const tmp = `${file.path}.${process.pid}.tmp`;
    writeFileSync(tmp, file.contents);
    renameSync(tmp, file.path);
  }
  if (file.path.endsWith(".js"))
    sizes.push(`${file.path.slice(root.length)} ${(file.contents.length / 1024).toFixed(1)} KiB`);
}
console.log(`client bundle: ${sizes.join(", ")}`);
