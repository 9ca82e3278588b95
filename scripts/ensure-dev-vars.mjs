#!/usr/bin/env node
// Gives a fresh clone a local BROADCAST_TOKEN, so `npm run dev` serves the
// inject API at once. The token is random per machine and never committed.
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";

const path = resolve(import.meta.dirname, "..", ".dev.vars");
const current = existsSync(path) ? readFileSync(path, "utf8") : "";

if (/^BROADCAST_TOKEN\s*=/m.test(current)) {
  console.log(`Using BROADCAST_TOKEN from ${path}`);
} else {
  const token = randomBytes(24).toString("base64url");
  const line = `BROADCAST_TOKEN="${token}"\n`;
  writeFileSync(path, current && !current.endsWith("\n") ? `${current}\n${line}` : current + line, {
    mode: 0o600,
  });
  console.log(
    `Created a random BROADCAST_TOKEN in ${path} (git-ignored). Scripts read it from there.`,
  );
}
