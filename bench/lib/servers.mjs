/**
 * @module servers
 * Starts the three servers the benchmark compares, each in its own process
 * group so it can be stopped with everything it spawned (wrangler starts a
 * node process, esbuild and two workerd processes), and only that.
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { listeningPorts, treeSample } from "./proc.mjs";

export const ROOT = resolve(import.meta.dirname, "..", "..");
const WRANGLER = join(ROOT, "node_modules", "wrangler", "bin", "wrangler.js");

/**
 * Names under [vars] and `[secrets] required` in a wrangler.toml (a line-based
 * read; enough for this project's config).
 * @param {string} file
 */
function configNames(file) {
  /** @type {string[]} */
  const vars = [];
  /** @type {string[]} */
  let secrets = [];
  let section = "";
  for (const line of readFileSync(file, "utf8").split("\n")) {
    const header = /^\s*\[([^\]]+)\]\s*$/.exec(line);
    if (header) {
      section = header[1] ?? "";
      continue;
    }
    const key = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=/.exec(line)?.[1];
    if (section === "vars" && key) vars.push(key);
    if (section === "secrets" && key === "required")
      secrets = [...line.matchAll(/"([^"]+)"/g)].map((m) => m[1] ?? "");
  }
  return { vars, secrets };
}

/** Where the servers' --persist-to directories go (default: the run's temp dir). */
let stateBase = /** @type {string | undefined} */ (undefined);
/** @param {string | undefined} dir */
export function setStateBase(dir) {
  stateBase = dir;
}

/**
 * The only overrides of the project's configuration: fan-out load needs more
 * than 20 msgs/10 s per sender and 200 per address. Connection limits keep
 * their defaults: clients spread over 253 loopback addresses.
 */
export const PROJECT_OVERRIDES = {
  RATE_LIMIT_MESSAGES: "100000",
  RATE_LIMIT_ADDRESS_MESSAGES: "100000",
};

/** A port nobody listens on right now (the kernel picks it; never 8787/9229). */
export async function freePort() {
  for (;;) {
    const port = await new Promise((res, rej) => {
      const s = createServer();
      s.on("error", rej);
      s.listen(0, "127.0.0.1", () => {
        const addr = s.address();
        s.close(() => res(typeof addr === "object" && addr ? addr.port : 0));
      });
    });
    if (port !== 8787 && port !== 9229) return port;
  }
}

/**
 * @typedef {object} Server
 * @property {string} name
 * @property {"project" | "plain"} protocol
 * @property {number} port
 * @property {number} pid root of the process group
 * @property {string} [token]
 * @property {string[]} log
 * @property {() => Promise<void>} stop
 * @property {() => Promise<void>} restart  stops and starts it again on the same port and state
 * @property {number} [inspectorPort]
 * @property {() => Promise<number | null>} directPort  user workerd's own port, bypassing wrangler's proxy
 */

/** @type {Set<import("node:child_process").ChildProcess>} */
const started = new Set();

/** Kills every process group we started; safe to call from an exit handler. */
export function killAll() {
  for (const child of started) {
    if (child.pid && child.exitCode === null && child.signalCode === null) {
      try {
        process.kill(-child.pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
  }
}

/**
 * @param {string} name
 * @param {string} cmd
 * @param {string[]} args
 * @param {{ cwd: string, env: NodeJS.ProcessEnv }} opts
 */
function launch(name, cmd, args, opts) {
  const child = spawn(cmd, args, { ...opts, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  started.add(child);
  /** @type {string[]} */
  const log = [];
  const keep = (/** @type {Buffer} */ b) => {
    log.push(b.toString());
    if (log.length > 200) log.splice(0, log.length - 200);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  const exited = new Promise((res) => child.once("exit", res));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null && child.pid) {
      try {
        process.kill(-child.pid, "SIGTERM");
      } catch {
        // gone
      }
      const timer = setTimeout(() => {
        try {
          if (child.pid) process.kill(-child.pid, "SIGKILL");
        } catch {
          // gone
        }
      }, 3000);
      await exited;
      clearTimeout(timer);
    }
    started.delete(child);
  };
  return { child, log, stop, exited };
}

/**
 * A server made of the process that `up` starts, with a restart: a deploy as
 * the room's members see it (every socket closes, the state stays). `pid` and
 * `log` follow the current process; `cleanup` runs after the final stop.
 * @param {() => Promise<ReturnType<typeof launch>>} up
 * @param {Omit<Server, "pid" | "log" | "stop" | "restart">} fields
 * @param {() => void} [cleanup]
 * @returns {Promise<Server>}
 */
async function restartable(up, fields, cleanup) {
  let p = await up();
  return {
    ...fields,
    get pid() {
      return /** @type {number} */ (p.child.pid);
    },
    get log() {
      return p.log;
    },
    stop: async () => {
      await p.stop();
      cleanup?.();
    },
    restart: async () => {
      await p.stop();
      p = await up();
    },
  };
}

/**
 * Polls until GET url answers with the expected status.
 * @param {string} url @param {number} status @param {Promise<unknown>} exited @param {number} timeoutMs
 */
async function waitHttp(url, status, exited, timeoutMs) {
  const state = { dead: false };
  void exited.then(() => (state.dead = true));
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && !state.dead) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
      await res.arrayBuffer();
      if (res.status === status) return;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(state.dead ? "exited before it was ready" : `not ready after ${timeoutMs} ms`);
}

/**
 * Starts `wrangler dev` for a config in `cwd` with a fresh persistence dir.
 * @param {{ name: string, protocol: "project" | "plain", cwd: string, vars: Record<string, string>, tmp: string }} o
 * @returns {Promise<Server>}
 */
async function startWrangler(o) {
  const port = await freePort();
  const inspectorPort = await freePort();
  const persist = mkdtempSync(join(stateBase ?? o.tmp, `${o.name}-state-`));
  // Only what we pass counts: the shell's environment must not override a var or secret.
  const names = configNames(join(o.cwd, "wrangler.toml"));
  const env = { ...process.env };
  for (const k of [...names.vars, ...names.secrets]) delete env[k];
  /** @type {Record<string, string>} */
  const secrets = {};
  for (const k of names.secrets) secrets[k] = o.vars[k] ?? randomBytes(18).toString("base64url");
  Object.assign(env, secrets, o.vars, {
    // No route out on CI and dev boxes: skip the Request.cf download and telemetry.
    CLOUDFLARE_CF_FETCH_ENABLED: "false",
    WRANGLER_SEND_METRICS: "false",
    FORCE_COLOR: "0",
  });
  const args = [
    WRANGLER,
    "dev",
    "--ip",
    "127.0.0.1",
    "--port",
    String(port),
    "--inspector-port",
    String(inspectorPort),
    "--persist-to",
    persist,
    "--log-level",
    "warn",
    "--show-interactive-dev-session=false",
    ...Object.entries(o.vars).flatMap(([k, v]) => ["--var", `${k}:${v}`]),
  ];
  const up = async () => {
    const p = launch(o.name, process.execPath, args, { cwd: o.cwd, env });
    try {
      await waitHttp(`http://127.0.0.1:${port}/ws/chat/bench-probe/`, 426, p.exited, 90_000);
    } catch (e) {
      await p.stop();
      throw new Error(`${o.name}: wrangler dev ${String(e)}\n${p.log.join("").slice(-3000)}`, {
        cause: e,
      });
    }
    return p;
  };
  /** @type {Server} */
  const server = await restartable(
    up,
    {
      name: o.name,
      protocol: o.protocol,
      port,
      inspectorPort,
      token: secrets.BROADCAST_TOKEN ?? o.vars.BROADCAST_TOKEN,
      directPort: () => directPort(server.pid),
    },
    () => rmSync(persist, { recursive: true, force: true }),
  );
  return server;
}

/**
 * The port of the workerd process that runs the Worker itself, behind
 * wrangler's proxy: of its listening sockets (entry, inspector, debug), the
 * one that answers like the Worker.
 * @param {number} rootPid
 */
async function directPort(rootPid) {
  const user = treeSample(rootPid).find((p) => p.role === "workerd-user");
  for (const candidate of user ? listeningPorts(user.pid) : []) {
    try {
      const res = await fetch(`http://127.0.0.1:${candidate}/ws/chat/bench-probe/`, {
        signal: AbortSignal.timeout(1500),
      });
      await res.arrayBuffer();
      if (res.status === 426) return candidate;
    } catch {
      // not the entry socket
    }
  }
  return null;
}

/**
 * Copies the project (everything but node_modules, .git, .wrangler, bench and
 * local secrets) to a temporary directory, so edits other people make in src/ during a run don't make
 * wrangler reload the Worker (dropping every socket), and the developer's
 * .dev.vars / .env are not read.
 * @param {string} tmp
 * @param {string} [source] a copy of the project to run instead (prototypes)
 * @param {string} [name] the copy's folder in `tmp`
 */
function snapshotProject(tmp, source = ROOT, name = "project") {
  const dir = join(tmp, name);
  const skip = /^(node_modules|\.git|\.wrangler|\.dev\.vars.*|\.env.*|bench|dist|test-results)$/;
  for (const entry of readdirSync(source)) {
    if (skip.test(entry)) continue;
    cpSync(join(source, entry), join(dir, entry), { recursive: true });
  }
  symlinkSync(join(ROOT, "node_modules"), join(dir, "node_modules"), "dir");
  return dir;
}

/**
 * @param {string} tmp @param {string} [source]
 * @param {{ name?: string, vars?: Record<string, string> }} [o] another name and more vars
 *   (e.g. the publish hook's), for a second copy beside the first
 */
export async function startProject(tmp, source, o = {}) {
  const token = randomBytes(18).toString("base64url");
  const name = o.name ?? "project";
  return startWrangler({
    name,
    protocol: "project",
    cwd: snapshotProject(tmp, source, name),
    vars: { BROADCAST_TOKEN: token, ...PROJECT_OVERRIDES, ...o.vars },
    tmp,
  });
}

/** @param {string} tmp */
export async function startMinimal(tmp) {
  const dir = join(tmp, "minimal");
  cpSync(join(ROOT, "bench", "minimal"), dir, {
    recursive: true,
    filter: (s) => !s.includes(".wrangler"),
  });
  return startWrangler({ name: "minimal", protocol: "plain", cwd: dir, vars: {}, tmp });
}

/** @returns {Promise<Server>} */
export async function startRaw() {
  const port = await freePort();
  const up = async () => {
    const p = launch(
      "raw",
      process.execPath,
      [join(ROOT, "bench", "raw-server.mjs"), String(port)],
      { cwd: ROOT, env: process.env },
    );
    const deadline = Date.now() + 15_000;
    while (!p.log.join("").includes("listening")) {
      if (Date.now() > deadline || p.child.exitCode !== null)
        throw new Error(`raw ws server did not start\n${p.log.join("")}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    return p;
  };
  return restartable(up, {
    name: "raw",
    protocol: "plain",
    port,
    directPort: async () => null,
  });
}

export function makeTmp() {
  return mkdtempSync(join(tmpdir(), "chat-bench-"));
}
