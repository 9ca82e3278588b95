/**
 * @module proc
 * CPU time and memory of a server's whole process tree, read from /proc
 * (Linux only), so wrangler's node process, its proxy workerd and the
 * workerd that runs the Worker are measured separately and together.
 */
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { cpus, loadavg, totalmem } from "node:os";

const TICK = 100; // USER_HZ: /proc reports CPU time in 1/100 s on Linux.
const PAGE = 4096;

/**
 * @typedef {{ pid: number, ppid: number, comm: string, utime: number, stime: number, rss: number }} ProcStat
 * @typedef {{ pid: number, role: string, cpu: number, rss: number }} ProcSample
 */

/** @param {number} pid @returns {ProcStat | null} */
function readStat(pid) {
  let text;
  try {
    text = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return null;
  }
  const close = text.lastIndexOf(")");
  const comm = text.slice(text.indexOf("(") + 1, close);
  // Fields after "(comm)": state is field 3, so index 0 here is field 3.
  const f = text.slice(close + 2).split(" ");
  return {
    pid,
    ppid: Number(f[1]),
    comm,
    utime: Number(f[11]),
    stime: Number(f[12]),
    rss: Number(f[21]) * PAGE,
  };
}

/** @returns {Map<number, ProcStat>} */
function allProcs() {
  const out = new Map();
  for (const name of readdirSync("/proc")) {
    const pid = Number(name);
    if (!Number.isInteger(pid)) continue;
    const s = readStat(pid);
    if (s) out.set(pid, s);
  }
  return out;
}

/** @param {number} pid */
export function cmdline(pid) {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean);
  } catch {
    return [];
  }
}

/** @type {Map<number, string>} */
const roleCache = new Map();

/**
 * Names a process of a server tree: which workerd is the wrangler proxy and
 * which runs the user Worker (the one wrangler starts with an inspector).
 * @param {ProcStat} p
 */
function roleOf(p) {
  const cached = roleCache.get(p.pid);
  if (cached) return cached;
  let role = p.comm;
  if (p.comm === "workerd") {
    const args = cmdline(p.pid);
    role = args.some((a) => a.startsWith("--inspector-addr")) ? "workerd-user" : "workerd-proxy";
  } else if (p.comm === "node" || p.comm.startsWith("node")) {
    const args = cmdline(p.pid).join(" ");
    role = args.includes("wrangler-dist/cli.js")
      ? "wrangler-node"
      : args.includes("wrangler")
        ? "wrangler-launcher"
        : "node";
  }
  roleCache.set(p.pid, role);
  return role;
}

/**
 * Every process in the tree rooted at `root`, with its CPU seconds so far and RSS bytes.
 * @param {number} root
 * @returns {ProcSample[]}
 */
export function treeSample(root) {
  const procs = allProcs();
  /** @type {Map<number, number[]>} */
  const children = new Map();
  for (const p of procs.values()) {
    const list = children.get(p.ppid);
    if (list) list.push(p.pid);
    else children.set(p.ppid, [p.pid]);
  }
  /** @type {ProcSample[]} */
  const out = [];
  const stack = [root];
  while (stack.length) {
    const pid = /** @type {number} */ (stack.pop());
    const p = procs.get(pid);
    if (!p) continue;
    out.push({ pid, role: roleOf(p), cpu: (p.utime + p.stime) / TICK, rss: p.rss });
    for (const c of children.get(pid) ?? []) stack.push(c);
  }
  return out;
}

/** Busy and total CPU seconds of the whole machine since boot (all cores). */
export function machineCpu() {
  const line = readFileSync("/proc/stat", "utf8").split("\n")[0] ?? "";
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const total = v.reduce((a, b) => a + b, 0);
  const idle = (v[3] ?? 0) + (v[4] ?? 0);
  return { busy: (total - idle) / TICK, total: total / TICK };
}

/** TCP ports a process listens on (IPv4), from /proc/net/tcp and its fds. */
export function listeningPorts(pid) {
  const inodes = new Set();
  try {
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      try {
        const link = readlinkSync(`/proc/${pid}/fd/${fd}`);
        const m = /^socket:\[(\d+)\]$/.exec(link);
        if (m) inodes.add(m[1]);
      } catch {
        // fd closed meanwhile
      }
    }
  } catch {
    return [];
  }
  const ports = [];
  for (const line of readFileSync("/proc/net/tcp", "utf8").split("\n").slice(1)) {
    const cols = line.trim().split(/\s+/);
    if (cols.length < 10 || cols[3] !== "0A") continue; // 0A = LISTEN
    if (inodes.has(cols[9])) ports.push(parseInt((cols[1] ?? "").split(":")[1] ?? "0", 16));
  }
  return ports;
}

export function machineInfo() {
  const c = cpus();
  return {
    cpu: c[0]?.model ?? "unknown",
    cores: c.length,
    memory_gb: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    loadavg: loadavg().map((x) => Math.round(x * 100) / 100),
  };
}
