#!/usr/bin/env node
// `npm run dev`: `wrangler dev` with every key of .dev.vars reaching the Worker.
//
// wrangler.toml declares `[secrets] required = ["BROADCAST_TOKEN"]`, so that
// `wrangler deploy` refuses a Worker without it and `wrangler types` is the
// same on every machine. But while `[secrets]` exists, `wrangler dev` loads
// from .dev.vars only the required keys and keys already in `[vars]`
// (wrangler 4.164; workers-sdk #14563/#14564), and wrangler has no way yet to
// declare an optional secret (workers-sdk #15273 is open). Optional secrets
// such as JOIN_SECRET would be dropped silently. So local development runs on
// wrangler.dev.json: wrangler.toml as wrangler itself reads it, minus
// `[secrets]`, written next to it (same directory, so every relative path,
// .dev.vars and .wrangler/state stay the same). It is regenerated whenever
// wrangler.toml changes; wrangler dev watches it and reloads.
// Once wrangler can declare optional secrets, this file can go.
import { spawn } from "node:child_process";
import { watch, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { experimental_readRawConfig } from "wrangler";

const root = resolve(import.meta.dirname, "..");
const source = resolve(root, "wrangler.toml");
const generated = resolve(root, "wrangler.dev.json");

function writeDevConfig() {
  const { rawConfig } = experimental_readRawConfig({ config: source });
  const config = { ...rawConfig };
  delete config.secrets;
  if (config.env)
    config.env = Object.fromEntries(
      Object.entries(config.env).map(([name, env]) => {
        const { secrets: _, ...rest } = env;
        return [name, rest];
      }),
    );
  writeFileSync(generated, `${JSON.stringify(config, null, 2)}\n`);
}

writeDevConfig();
watch(source, () => {
  try {
    writeDevConfig();
  } catch (err) {
    console.error(`wrangler.toml: ${err.message}`);
  }
}).unref();

const wrangler = spawn(
  resolve(root, "node_modules/.bin/wrangler"),
  ["dev", "--config", generated, ...process.argv.slice(2)],
  { cwd: root, stdio: "inherit" },
);
// Ctrl-C reaches wrangler directly (same process group): stay until it has
// shut down. Signals sent to this process alone are passed on.
process.on("SIGINT", () => {});
for (const signal of ["SIGTERM", "SIGHUP"]) process.on(signal, () => wrangler.kill(signal));
wrangler.on("exit", (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
