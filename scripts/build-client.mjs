#!/usr/bin/env node
// Bundles the browser code in client/ into public/client/ with esbuild.
// wrangler runs it before `wrangler dev` and `wrangler deploy` ([build] in
// wrangler.toml), so the bundle is never committed and never stale.
// Works on Node 20+ (wrangler may run it with whatever `node` is on PATH).
import { build } from "esbuild";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));

const result = await build({
  absWorkingDir: root,
  entryPoints: ["client/lobby.ts", "client/room.ts"],
  outdir: "public/client",
  entryNames: "[name]",
  bundle: true,
  // Classic scripts: room.js loads in <head> and must not be a module
  // (modules are deferred, and keys typed before it runs would be lost).
  format: "iife",
  target: ["es2022", "chrome110", "firefox110", "safari16"],
  minify: true,
  sourcemap: "linked",
  legalComments: "none",
  metafile: true,
  logLevel: "warning",
});

const sizes = Object.entries(result.metafile.outputs)
  .filter(([file]) => file.endsWith(".js"))
  .map(([file, out]) => `${file} ${(out.bytes / 1024).toFixed(1)} KiB`);
console.log(`client bundle: ${sizes.join(", ")}`);
