/**
 * `npm run bench`: starts the project (wrangler dev), the minimal room
 * (wrangler dev, bench/minimal) and a raw `ws` server, drives all three
 * through the same scenarios with one load generator, prints a table and
 * writes bench/results/<date>.json, .md and SVG charts in <date>-charts/.
 *
 *   npm run bench                      full run, about 15 minutes
 *   npm run bench -- --quick           small sizes, a few minutes, results in a temp dir
 *   npm run bench -- --only=max100,ramp          some scenarios
 *   npm run bench -- --targets=minimal,minimal-direct,minimal-batch
 *       extra targets for investigation: <server>[-direct][-batch|-cached|-accept][-deflate]
 *       (-direct: straight to the workerd running the Worker, past wrangler's proxy;
 *        -batch: ?batch=1 frames; -cached / -accept: minimal room variants, see
 *        bench/minimal/worker.js; -deflate: the client offers permessage-deflate)
 *   npm run bench -- --repeat=3        measure each scenario/target 3 times, interleaved; keep the median
 *   npm run bench -- --retries=N       re-measure when other processes used >35% of a core (default 1, quick 0)
 *   npm run bench -- --merge           replace these scenarios in today's results file
 *   npm run bench -- --render=FILE.json rewrite FILE.md and the charts from FILE.json (after editing the report code)
 *   npm run bench -- --out=DIR         write results elsewhere
 *   npm run bench -- --project-dir=DIR run a modified copy of the project (prototypes) instead
 *   npm run bench -- --state-dir=/dev/shm  put the servers' --persist-to dirs there (e.g. tmpfs)
 *   npm run bench -- --perf=DIR        record each server's processes with `perf record` per
 *       scenario (investigation; needs perf and root or perf_event_paranoid <= 1)
 *
 * Exits non-zero if a server does not start or a scenario fails.
 */
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chartsMarkdown, writeCharts } from "./lib/charts.mjs";
import { machineInfo, treeSample } from "./lib/proc.mjs";
import { checkTargets, markdownTable, tableHeader, tableRows, textTable } from "./lib/report.mjs";
import { RELAY_SCENARIOS, runScenario, SCENARIOS, SIZES } from "./lib/scenarios.mjs";
import {
  killAll,
  makeTmp,
  PROJECT_OVERRIDES,
  ROOT,
  startMinimal,
  startProject,
  setStateBase,
  startRaw,
} from "./lib/servers.mjs";

/** @typedef {import("./lib/report.mjs").Row} Row */
/** @typedef {import("./lib/servers.mjs").Server} Server */

const argv = process.argv.slice(2);
const flag = (/** @type {string} */ name) => argv.includes(`--${name}`);
const option = (/** @type {string} */ name) =>
  argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);

const quick = flag("quick");
const sizes = quick ? SIZES.quick : SIZES.full;
const only = option("only")?.split(",");
const scenarios = SCENARIOS.filter(([name]) => !only || only.includes(name));
const targetNames = (option("targets") ?? "project,minimal,raw").split(",");
const date = new Date().toISOString().slice(0, 10);
const outDir =
  option("out") ??
  (quick ? join(tmpdir(), `chat-bench-quick-${Date.now()}`) : join(ROOT, "bench", "results"));
const perfDir = option("perf");
const projectDir = option("project-dir");
setStateBase(option("state-dir"));
const repeat = Number(option("repeat") ?? 1);
const retries = Number(option("retries") ?? (quick ? 0 : 1));
/** Other processes using more than this share of one core make a measurement "disturbed". */
const DISTURBED = 0.35;
const scenarioTimeoutMs = quick ? 60_000 : 180_000;

for (const t of targetNames)
  if (
    !/^(project|minimal|raw)(-direct)?(-batch|-cached|-accept)?(-deflate)?$/.test(t) ||
    (t.startsWith("raw") && t.includes("-direct"))
  )
    throw new Error(`unknown target ${t}`);

/** The run's temp dir (project copy, state), removed on exit and on Ctrl-C. */
let runTmp = /** @type {string | null} */ (null);
const onSignal = () => {
  killAll();
  if (runTmp) rmSync(runTmp, { recursive: true, force: true });
  process.exit(130);
};
process.on("SIGINT", onSignal);
process.on("SIGTERM", onSignal);
process.on("exit", killAll);

/** @param {string} p */
const version = (p) =>
  /** @type {{ version: string }} */ (JSON.parse(readFileSync(p, "utf8"))).version;
const rowKey = (/** @type {Row} */ r) => `${r.scenario}/${r.target}`;

function versions() {
  const require = createRequire(import.meta.url);
  const wranglerPkg = require.resolve("wrangler/package.json");
  const workerdPkg = createRequire(wranglerPkg).resolve("workerd/package.json");
  const workerdBin = createRequire(workerdPkg).resolve("workerd/bin/workerd");
  let workerdRuntime = "unknown";
  try {
    workerdRuntime = execFileSync(workerdBin, ["--version"], { encoding: "utf8" }).trim();
  } catch {
    // keep unknown
  }
  return {
    node: process.version,
    wrangler: version(wranglerPkg),
    workerd: `${version(workerdPkg)} (${workerdRuntime})`,
    ws: version(require.resolve("ws/package.json")),
  };
}

function gitState() {
  try {
    const commit = execFileSync("git", ["rev-parse", "--short", "HEAD"], {
      cwd: ROOT,
      encoding: "utf8",
    }).trim();
    const dirty = execFileSync("git", ["status", "--porcelain", "--", "src", "wrangler.toml"], {
      cwd: ROOT,
      encoding: "utf8",
    }).trim();
    return { commit, src_uncommitted_changes: dirty ? dirty.split("\n").length : 0 };
  } catch {
    return { commit: "unknown", src_uncommitted_changes: null };
  }
}

/**
 * The server a scenario runs on for a target: the project's relay scenarios
 * (giantrelays<N>) run on its second server, started with ROOM_RELAYS.
 * @param {string} scenario @param {string} name @param {Record<string, Server>} servers
 */
function serverFor(scenario, name, servers) {
  const base = name.split("-")[0] ?? "";
  return /** @type {Server} */ (
    RELAY_SCENARIOS.has(scenario) && base === "project" ? servers.relays : servers[base]
  );
}

/**
 * @param {string} name e.g. "minimal-direct-batch"
 * @param {Server} server
 * @returns {Promise<import("./lib/loadgen.mjs").Target>}
 */
async function target(name, server) {
  let port = server.port;
  if (name.includes("-direct")) {
    const direct = await server.directPort();
    if (direct === null) throw new Error(`${name}: could not find the user workerd's port`);
    port = direct;
  }
  return {
    name,
    protocol: server.protocol,
    port,
    token: server.token,
    batch: name.includes("-batch"),
    deflate: name.includes("-deflate"),
    api: name.includes("-cached") ? "cached" : name.includes("-accept") ? "accept" : undefined,
  };
}

/** Average share of one core used by processes outside the benchmark during a measurement. */
function otherShare(/** @type {Row} */ row) {
  const f = row.figures;
  // redeploy leaves it out: the old server's shutdown is not other load.
  return f && f.wall_s > 0 && f.other_cpu_s !== undefined
    ? Math.max(0, f.other_cpu_s) / f.wall_s
    : 0;
}

/** @param {Row} a @param {Row} b */
function pickLessDisturbed(a, b) {
  if (b.error) return a;
  const pick = otherShare(b) < otherShare(a) ? b : a;
  return { ...pick, figures: { ...pick.figures, attempts: (a.figures?.attempts ?? 1) + 1 } };
}

/** The headline figure a scenario is ranked by. */
const RANK_KEY = /** @type {Record<string, string>} */ ({
  ramp: "conn_per_s",
  storm1000: "conn_per_s",
  storm2000: "conn_per_s",
  inject: "req_per_s",
  redeploy: "resumed_after_up_s",
  giant2000: "max_frames_per_s",
  giant4000: "max_frames_per_s",
  giantrelays2000: "max_frames_per_s",
  giantrelays4000: "max_frames_per_s",
});
const rankKey = (/** @type {Row} */ r) => RANK_KEY[r.scenario] ?? "frames_per_s";

/**
 * With --repeat, the run with the median headline figure, plus every run's
 * headline figures so the spread shows.
 * @param {Row[]} list
 */
function summarise(list) {
  const ok = list.filter((r) => !r.error);
  const first = /** @type {Row} */ (list[0]);
  if (list.length === 1 || ok.length === 0)
    return ok.length < list.length ? (list.find((r) => r.error) ?? first) : first;
  const key = rankKey(first);
  const sorted = ok.toSorted((a, b) => (a.figures?.[key] ?? 0) - (b.figures?.[key] ?? 0));
  const median = /** @type {Row} */ (sorted[Math.floor((sorted.length - 1) / 2)]);
  return {
    ...median,
    figures: {
      ...median.figures,
      repeats: ok.map((r) => ({
        [key]: r.figures?.[key],
        p99_ms: r.figures?.p99_ms,
        cpu_us_per_frame: r.figures?.cpu_us_per_frame,
        other_cpu_share: Math.round(otherShare(r) * 100) / 100,
      })),
    },
    ...(ok.length < list.length ? { error: list.find((r) => r.error)?.error } : {}),
  };
}

/**
 * Starts `perf record` on a server's processes; the returned function stops it
 * and writes a flat report (by process, library and symbol) next to the data.
 * @param {Server} server @param {string} file
 */
function startPerf(server, file) {
  const pids = treeSample(server.pid)
    .filter((p) => p.role.startsWith("workerd") || p.role === "node" || p.role === "wrangler-node")
    .map((p) => p.pid);
  mkdirSync(/** @type {string} */ (perfDir), { recursive: true });
  const perf = spawn("perf", ["record", "-F", "999", "-g", "-o", file, "-p", pids.join(",")], {
    stdio: "ignore",
  });
  const exited = new Promise((r) => perf.once("exit", r));
  return async () => {
    perf.kill("SIGINT");
    await exited;
    try {
      const report = execFileSync(
        "perf",
        [
          "report",
          "-i",
          file,
          "--no-children",
          "--sort",
          "comm,dso,sym",
          "--stdio",
          "-g",
          "none",
          "--percent-limit",
          "0.3",
        ],
        { encoding: "utf8", maxBuffer: 64 * 2 ** 20, stdio: ["ignore", "pipe", "ignore"] },
      );
      writeFileSync(`${file}.txt`, report);
    } catch (e) {
      console.error(`perf report failed: ${String(e)}`);
    }
  };
}

/** @param {Row[]} rows @param {string[]} targets @param {Record<string, unknown>} meta */
function markdown(rows, targets, meta) {
  const m = /** @type {any} */ (meta);
  const checks = checkTargets(rows);
  return `# Benchmark results ${m.date}${m.quick ? " (quick)" : ""}

Machine: ${m.machine.cpu}, ${m.machine.cores} cores, ${m.machine.memory_gb} GB; load average at start ${m.machine.loadavg.join(" / ")} (1/5/15 min).
Versions: node ${m.versions.node}, wrangler ${m.versions.wrangler}, workerd ${m.versions.workerd}, ws ${m.versions.ws}. Project at ${m.git.commit}${m.git.src_uncommitted_changes ? ` with ${m.git.src_uncommitted_changes} uncommitted file(s) in src/` : ""}.
Project configuration: wrangler.toml as is, except ${Object.entries(m.project_overrides)
    .map(([k, v]) => `\`--var ${k}:${v}\``)
    .join(
      ", ",
    )} (the default 20 messages per 10 s per sender and 200 per address would refuse fan-out load); every other feature on, connection limits included: each client binds one of 253 loopback addresses (127.0.0.2–254).
Load generator and servers share the machine; "CPU s used by other processes" is what the rest of the machine used meanwhile.
Latency is send → delivery to each receiver (timestamp and per-sender sequence inside each message).

## Summary

${markdownTable(tableHeader(targets), tableRows(rows, targets, true))}

## Targets (issues 6 and 13)

${checks.length ? checks.map((c) => `- ${c.ok === null ? "?" : c.ok ? "met" : "**missed**"}: ${c.target}: ${c.detail}`).join("\n") : "(needs project and minimal)"}

## All figures

${markdownTable(tableHeader(targets), tableRows(rows, targets, false))}
`;
}

/** --render: rebuilds the Markdown report of an earlier run from its JSON. */
function render(/** @type {string} */ file) {
  const data = JSON.parse(readFileSync(file, "utf8"));
  const base = file.replace(/\.json$/, "");
  const charts = writeCharts(base, data.rows, data.targets, data);
  writeFileSync(
    `${base}.md`,
    markdown(data.rows, data.targets, data) + chartsMarkdown(base, charts),
  );
  console.log(textTable(tableHeader(data.targets), tableRows(data.rows, data.targets, true)));
}

async function main() {
  const machine = machineInfo();
  const meta = {
    date,
    quick,
    machine,
    versions: versions(),
    git: gitState(),
    project_overrides: PROJECT_OVERRIDES,
    sizes,
    targets: targetNames,
  };
  console.log(
    `bench ${quick ? "(quick) " : ""}on ${machine.cpu}, ${machine.cores} cores, load ${machine.loadavg.join(" ")}`,
  );
  const tmp = makeTmp();
  runTmp = tmp;
  /** @type {Record<string, Server>} */
  const servers = {};
  /** @type {Row[]} */
  const rows = [];
  let failed = false;
  try {
    const bases = new Set(targetNames.map((t) => t.split("-")[0]));
    const relays = scenarios.find(([n]) => RELAY_SCENARIOS.has(n));
    const t0 = Date.now();
    const starting = await Promise.allSettled([
      bases.has("project")
        ? startProject(tmp, projectDir).then((s) => (servers.project = s))
        : null,
      // A second copy of the project for the relay scenarios, its rooms spread over relays.
      bases.has("project") && relays
        ? startProject(tmp, projectDir, {
            name: "project-relays",
            vars: { ROOM_RELAYS: String(sizes[relays[0]].relays) },
          }).then((s) => (servers.relays = s))
        : null,
      bases.has("minimal") ? startMinimal(tmp).then((s) => (servers.minimal = s)) : null,
      bases.has("raw") ? startRaw().then((s) => (servers.raw = s)) : null,
    ]);
    for (const r of starting) if (r.status === "rejected") throw r.reason;
    console.log(
      `servers up in ${((Date.now() - t0) / 1000).toFixed(1)} s: ${Object.values(servers)
        .map((s) => `${s.name} :${s.port}`)
        .join(", ")}`,
    );
    /**
     * One measurement of one scenario on one target.
     * @param {string} name @param {string} label @param {string} t @param {number} attempt
     * @returns {Promise<Row>}
     */
    const measureOnce = async (name, label, t, attempt) => {
      /** @type {Row} */
      const row = { scenario: name, label, target: t };
      const started = Date.now();
      try {
        const server = serverFor(name, t, servers);
        const tg = await target(t, server);
        /** @type {ReturnType<typeof setTimeout> | undefined} */
        let timer;
        const timeout = new Promise((_, rej) => {
          timer = setTimeout(
            () => rej(new Error(`timed out after ${scenarioTimeoutMs} ms`)),
            scenarioTimeoutMs,
          );
        });
        const stopPerf = perfDir
          ? startPerf(server, join(perfDir, `${name}-${t}-${attempt}.data`))
          : null;
        try {
          row.figures = await Promise.race([runScenario(name, tg, server, sizes), timeout]);
        } finally {
          clearTimeout(timer);
          await stopPerf?.();
        }
        if (row.figures?.conn_failed)
          throw new Error(
            `${row.figures.conn_failed} connections failed: ${row.figures.conn_errors?.[0]}`,
          );
      } catch (e) {
        row.error = e instanceof Error ? e.message : String(e);
      }
      const f = row.figures;
      console.log(
        `  ${name.padEnd(8)} ${t.padEnd(14)} ${row.error ? `FAILED: ${row.error}` : [f?.frames_per_s !== undefined ? `${f.frames_per_s} frames/s` : "", f?.p99_ms !== undefined ? `p99 ${f.p99_ms} ms` : "", f?.lost ? `lost ${f.lost}` : "", f?.conn_per_s !== undefined ? `${f.conn_per_s} conn/s` : "", f?.resumed_after_up_s !== undefined ? `all resumed ${f.resumed_after_up_s} s after restart` : "", f?.server_cpu_s !== undefined ? `cpu ${f.server_cpu_s} s` : "", f?.other_cpu_s !== undefined ? `others ${Math.round(otherShare(row) * 100)}% of a core` : ""].filter(Boolean).join(", ")} (${((Date.now() - started) / 1000).toFixed(0)} s)`,
      );
      for (const s of Object.values(servers)) {
        try {
          process.kill(s.pid, 0);
        } catch {
          throw new Error(`${s.name} server died during ${name}\n${s.log.join("").slice(-2000)}`);
        }
      }
      await new Promise((r) => setTimeout(r, quick ? 200 : 1500));
      return row;
    };

    for (const [name, label] of scenarios) {
      /** @type {Map<string, Row[]>} */
      const runs = new Map(targetNames.map((t) => [t, []]));
      // Rounds interleave the targets, so a burst of load from other processes
      // hits them alike; a disturbed measurement is taken again (up to --retries times).
      for (let round = 0; round < repeat; round++) {
        for (const t of targetNames) {
          const list = /** @type {Row[]} */ (runs.get(t));
          let row = await measureOnce(name, label, t, list.length);
          for (
            let retry = 0;
            retry < retries && !row.error && otherShare(row) > DISTURBED;
            retry++
          ) {
            console.log(
              `    disturbed (other processes used ${Math.round(otherShare(row) * 100)}% of a core): again`,
            );
            const again = await measureOnce(name, label, t, list.length + 1 + retry);
            row = pickLessDisturbed(row, again);
          }
          list.push(row);
        }
      }
      for (const t of targetNames) {
        const row = summarise(/** @type {Row[]} */ (runs.get(t)));
        if (row.error) failed = true;
        rows.push(row);
      }
    }
  } catch (e) {
    console.error(e instanceof Error ? e.message : e);
    failed = true;
  } finally {
    await Promise.all(Object.values(servers).map((s) => s.stop()));
    rmSync(tmp, { recursive: true, force: true });
  }

  if (rows.length) {
    mkdirSync(outDir, { recursive: true });
    const base = join(outDir, quick ? `quick-${date}` : date);
    let allRows = rows;
    if (flag("merge") && existsSync(`${base}.json`)) {
      const old = /** @type {{ rows: Row[] }} */ (JSON.parse(readFileSync(`${base}.json`, "utf8")));
      const fresh = new Set(rows.map(rowKey));
      allRows = [...old.rows.filter((r) => !fresh.has(rowKey(r))), ...rows];
      const order = SCENARIOS.map(([n]) => n);
      allRows.sort(
        (a, b) =>
          order.indexOf(/** @type {any} */ (a.scenario)) -
          order.indexOf(/** @type {any} */ (b.scenario)),
      );
    }
    const targets = [...new Set(allRows.map((r) => r.target))];
    writeFileSync(
      `${base}.json`,
      `${JSON.stringify({ ...meta, targets, rows: allRows }, null, 2)}\n`,
    );
    const charts = writeCharts(base, allRows, targets, meta);
    writeFileSync(`${base}.md`, markdown(allRows, targets, meta) + chartsMarkdown(base, charts));
    console.log();
    console.log(textTable(tableHeader(targets), tableRows(allRows, targets, true)));
    console.log();
    for (const c of checkTargets(allRows))
      console.log(`${c.ok === null ? "?" : c.ok ? "met   " : "MISSED"}  ${c.target}: ${c.detail}`);
    console.log(`\nresults: ${base}.json, ${base}.md, charts in ${base}-charts/`);
  }
  process.exitCode = failed ? 1 : 0;
}

const renderFile = option("render");
if (renderFile) render(renderFile);
else await main();
