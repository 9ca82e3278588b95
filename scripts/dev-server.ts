// Starts the Worker for tests, the benchmark and the soak, never touching the
// developer's .dev.vars, .wrangler/state or port 8787. Two ways:
//
// - startProjectCopy({ devVars }): the user's path, exactly as the README
//   says. A temporary copy of the project (the files git knows, untracked
//   ones included, plus a symlink to node_modules) with `devVars` written to
//   `.dev.vars` in its root, running `npm run dev -- --ip 127.0.0.1 --port
//   <free>` there. Its state lives in the copy's own .wrangler/state. Use it
//   for at least one test per feature, so a change to wrangler.toml,
//   package.json or the dev launcher that breaks users cannot pass CI.
//
//     const server = await startProjectCopy({ devVars: { JOIN_SECRET: "s" } });
//     // server.url, server.token (the copy's BROADCAST_TOKEN), server.dir
//     await server.stop();   // keeps the copy: startProjectCopy({ dir: server.dir }) restarts it
//     await server.remove(); // stops and deletes the copy
//
// - startDevServer(options): `wrangler dev` on this checkout with a fresh
//   persistence directory, secrets from a private env file and vars as --var.
//   Faster to set up; for everything that does not test the user's path.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";

export const PROJECT_ROOT = resolve(import.meta.dirname, "..");

/** The Worker's secrets and vars: a value in the caller's environment would override wrangler.toml. */
const SERVER_VARS =
  /^(BROADCAST_TOKEN|JOIN_SECRET|WEBHOOK_|PUBLISH_HOOK_|HISTORY_|MAX_|RATE_LIMIT_|ALLOWED_ORIGINS|LOG_LEVEL|ROOM_TTL)/;

export interface DevServerOptions {
  /** BROADCAST_TOKEN for the server; null starts it with none (the API answers 503). */
  token?: string | null;
  /** Extra vars, e.g. { RATE_LIMIT_MESSAGES: "100000" }. */
  vars?: Record<string, string>;
  /** Reuse a port, e.g. to restart a server where clients expect it. */
  port?: number;
  /** Reuse a persistence directory, e.g. to restart with the same rooms. */
  persistTo?: string;
  /** Another wrangler config (the benchmark's reference room). */
  config?: string;
  /** Where wrangler's output goes (default: kept in memory for error reports). */
  log?: (line: string) => void;
  /** wrangler's --log-level (default: wrangler's own). */
  logLevel?: "debug" | "info" | "log" | "warn" | "error" | "none";
}

export interface DevServer {
  url: string;
  port: number;
  persistTo: string;
  token: string | null;
  process: ChildProcess;
  /** Ends wrangler and its workerd; SIGKILL mimics a crash. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/** A port nobody is listening on right now. */
export function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once("error", fail);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => done(port));
    });
  });
}

export async function startDevServer(options: DevServerOptions = {}): Promise<DevServer> {
  const token = options.token === undefined ? `test-${crypto.randomUUID()}` : options.token;
  const port = options.port ?? (await freePort());
  const persistTo = options.persistTo ?? mkdtempSync(join(tmpdir(), "chat-state-"));
  const envDir = mkdtempSync(join(tmpdir(), "chat-env-"));
  const envFile = join(envDir, "secrets.env");
  writeFileSync(envFile, token === null ? "" : `BROADCAST_TOKEN=${token}\n`, { mode: 0o600 });

  const args = [
    "dev",
    "--ip",
    "127.0.0.1",
    "--port",
    String(port),
    "--inspector-port",
    String(await freePort()),
  ];
  args.push(
    "--persist-to",
    persistTo,
    "--env-file",
    envFile,
    "--show-interactive-dev-session=false",
  );
  if (options.config) args.push("--config", options.config);
  if (options.logLevel) args.push("--log-level", options.logLevel);
  // TEST_ROOM_RELAYS=3 runs any suite's servers with rooms over relays
  // (docs/testing.md), unless a test sets ROOM_RELAYS itself.
  const vars = { ...options.vars };
  if (process.env.TEST_ROOM_RELAYS && vars.ROOM_RELAYS === undefined)
    vars.ROOM_RELAYS = process.env.TEST_ROOM_RELAYS;
  for (const [key, value] of Object.entries(vars)) args.push("--var", `${key}:${value}`);

  const { child, output } = spawnServer(
    resolve(PROJECT_ROOT, "node_modules/.bin/wrangler"),
    args,
    PROJECT_ROOT,
    options.log,
  );

  const url = `http://127.0.0.1:${port}`;
  // The state directory stays (a restart may reuse it); the secrets file goes.
  const stop = async (signal: NodeJS.Signals = "SIGTERM") => {
    await stopProcessGroup(child, signal);
    rmSync(envDir, { recursive: true, force: true });
  };
  try {
    await waitUntilServing(url, child, 90_000);
  } catch (err) {
    await stop();
    throw new Error(`${(err as Error).message}\n${output.slice(-30).join("\n")}`, { cause: err });
  }
  return { url, port, persistTo, token, process: child, stop };
}

export interface ProjectCopyOptions {
  /**
   * Written to `.dev.vars` in the copy's root, as a user would (values are
   * quoted). Without BROADCAST_TOKEN, `npm run dev` generates one, and
   * `token` reports it. Written again when `dir` is reused.
   */
  devVars: Record<string, string>;
  /** Reuse a copy made earlier (e.g. a restart that keeps .wrangler/state). */
  dir?: string;
  /** Reuse a port, e.g. to restart a server where clients expect it. */
  port?: number;
  /** Where the output of `npm run dev` goes (default: kept for error reports). */
  log?: (line: string) => void;
}

export interface ProjectCopy extends DevServer {
  /** The copy's root: run `npm run post`, read `.dev.vars` or `.wrangler/state` there. */
  dir: string;
  /** Stops the server (if running) and deletes the copy. */
  remove(): Promise<void>;
}

/** Copies the working tree's files (tracked and untracked, not ignored) to a new temp dir. */
function copyProject(): string {
  const dir = mkdtempSync(join(tmpdir(), "chat-copy-"));
  const files = execFileSync(
    "git",
    ["ls-files", "-z", "--cached", "--others", "--exclude-standard"],
    {
      cwd: PROJECT_ROOT,
      encoding: "utf8",
    },
  )
    .split("\0")
    .filter((f) => f !== "");
  for (const file of files) {
    const from = join(PROJECT_ROOT, file);
    if (!existsSync(from)) continue; // deleted in the working tree, not yet in git
    mkdirSync(dirname(join(dir, file)), { recursive: true });
    cpSync(from, join(dir, file));
  }
  // A symlink, not a copy: node resolves packages through it, and no copy
  // takes seconds or disk.
  symlinkSync(join(PROJECT_ROOT, "node_modules"), join(dir, "node_modules"), "dir");
  return dir;
}

function dotenvLine(key: string, value: string): string {
  // wrangler reads .dev.vars with dotenv and dotenv-expand: quotes end a
  // value and `$` expands. Tests have no need for either.
  if (/["\\$\n]/.test(value))
    throw new Error(`devVars.${key}: use a value without " \\ $ or newline`);
  return `${key}="${value}"`;
}

/**
 * The user's path: `npm run dev` in a copy of the project with `devVars` as
 * its `.dev.vars`. See the top of this file.
 */
export async function startProjectCopy(options: ProjectCopyOptions): Promise<ProjectCopy> {
  const dir = options.dir ?? copyProject();
  const devVarsPath = join(dir, ".dev.vars");
  const lines = Object.entries(options.devVars).map(([k, v]) => dotenvLine(k, v));
  writeFileSync(devVarsPath, lines.length ? `${lines.join("\n")}\n` : "", { mode: 0o600 });

  const port = options.port ?? (await freePort());
  const args = [
    "run",
    "dev",
    "--",
    "--ip",
    "127.0.0.1",
    "--port",
    String(port),
    // Not part of the user's command, but the default 9229 would collide
    // between parallel servers.
    "--inspector-port",
    String(await freePort()),
  ];
  // npm's own variables (npm_config_*, npm_package_*) belong to the test
  // runner's npm, not the user's.
  const { child, output } = spawnServer("npm", args, dir, options.log, (key) =>
    key.startsWith("npm_"),
  );

  const url = `http://127.0.0.1:${port}`;
  const stop = (signal: NodeJS.Signals = "SIGTERM") => stopProcessGroup(child, signal);
  const remove = async () => {
    await stop();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitUntilServing(url, child, 90_000);
  } catch (err) {
    await (options.dir ? stop() : remove());
    throw new Error(`${(err as Error).message}\n${output.slice(-30).join("\n")}`, { cause: err });
  }
  const written = readFileSync(devVarsPath, "utf8").match(/^BROADCAST_TOKEN\s*=\s*"?([^"\n]*)"?/m);
  return {
    url,
    port,
    persistTo: join(dir, ".wrangler", "state"),
    token: written?.[1] ?? null,
    process: child,
    dir,
    stop,
    remove,
  };
}

/**
 * Starts a server in its own process group, with none of the caller's
 * Worker vars in its environment (wrangler reads secrets and vars from
 * process.env too) and no Request.cf download (runs are offline and need no
 * geolocation). Its output goes to `log`, or is kept for error reports.
 */
function spawnServer(
  command: string,
  args: string[],
  cwd: string,
  log: ((line: string) => void) | undefined,
  alsoDrop: (key: string) => boolean = () => false,
): { child: ChildProcess; output: string[] } {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    WRANGLER_SEND_METRICS: "false",
    CLOUDFLARE_CF_FETCH_ENABLED: "false",
  };
  for (const key of Object.keys(env)) if (SERVER_VARS.test(key) || alsoDrop(key)) delete env[key];
  const child = spawn(command, args, {
    cwd,
    env,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const output: string[] = [];
  const onData = (data: Buffer) => {
    for (const line of data.toString().split("\n")) {
      if (line.trim() === "") continue;
      if (log) log(line);
      else output.push(line);
    }
  };
  child.stdout!.on("data", onData);
  child.stderr!.on("data", onData);
  return { child, output };
}

async function waitUntilServing(url: string, child: ChildProcess, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`wrangler dev exited with ${child.exitCode}`);
    try {
      await fetch(`${url}/ws/chat/ready/`, { signal: AbortSignal.timeout(2000) });
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  throw new Error(`wrangler dev did not answer on ${url} within ${ms / 1000} s`);
}

/**
 * Ends wrangler and the workerd it started (same process group), and waits
 * until the whole group is gone, so a restart on the same port can bind it.
 */
async function stopProcessGroup(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  const pid = child.pid;
  if (pid === undefined) return;
  const signalGroup = (s: NodeJS.Signals | 0) => {
    try {
      process.kill(-pid, s);
      return true;
    } catch {
      return false; // the group is gone
    }
  };
  signalGroup(signal);
  for (let waited = 0; signalGroup(0); waited += 100) {
    if (waited === 5000) signalGroup("SIGKILL");
    await new Promise((r) => setTimeout(r, 100));
  }
}
