#!/usr/bin/env node
// npm run post -- <room> <message|-> [--user NAME]
// Posts into a room through the inject API; the Channels tutorial's
// group_send from outside a consumer, as a command.
import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { PostError, postMessage } from "../src/post-client.ts";

const USAGE = `usage: npm run post -- <room> <message> [--user NAME]
  <message> "-" reads the message from standard input.
  CHAT_URL        server (default http://localhost:8787)
  BROADCAST_TOKEN token (default: read from .dev.vars)`;

function fail(reason: string): never {
  console.error(`post: ${reason}`);
  process.exit(1);
}

/** The token from the environment, else from the project's .dev.vars. */
function findToken(): string {
  if (process.env.BROADCAST_TOKEN) return process.env.BROADCAST_TOKEN;
  const path = resolve(import.meta.dirname, "..", ".dev.vars");
  if (existsSync(path)) {
    const match = /^BROADCAST_TOKEN\s*=\s*"?([^"\n]*)"?\s*$/m.exec(readFileSync(path, "utf8"));
    if (match?.[1]) return match[1];
  }
  fail(
    "no BROADCAST_TOKEN: set it in the environment, or run `npm run dev` once to create .dev.vars",
  );
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  // Drop the one newline that `echo` and most commands end their output with.
  return Buffer.concat(chunks)
    .toString("utf8")
    .replace(/\r?\n$/, "");
}

async function main(): Promise<void> {
  let args;
  try {
    args = parseArgs({
      allowPositionals: true,
      options: { user: { type: "string" }, help: { type: "boolean", short: "h" } },
    });
  } catch (err) {
    fail(`${(err as Error).message}\n${USAGE}`);
  }
  if (args.values.help) {
    console.log(USAGE);
    return;
  }
  const [room, text, ...extra] = args.positionals;
  if (room === undefined || text === undefined || extra.length > 0)
    fail(`expected a room and one message (quote it)\n${USAGE}`);
  const message = text === "-" ? await readStdin() : text;
  const baseUrl = process.env.CHAT_URL || "http://localhost:8787";
  try {
    const reply = await postMessage(baseUrl, findToken(), room, message, {
      user: args.values.user,
      onRetry: (attempt, reason) => console.error(`post: ${reason}, retrying (${attempt})...`),
    });
    console.log(JSON.stringify(reply));
  } catch (err) {
    fail(err instanceof PostError ? err.message : String(err));
  }
}

await main();
