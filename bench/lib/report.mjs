/**
 * @module report
 * Turns scenario figures into the printed table, the Markdown report and
 * the target check of issue 6 (ratios of the project to the minimal room).
 */

/** Figures shown per scenario, in order, with their label and unit. "lower" = lower is better. */
export const FIGURES = /** @type {const} */ ([
  ["frames_per_s", "delivered frames/s", "higher"],
  ["p50_ms", "latency p50 ms", "lower"],
  ["p90_ms", "latency p90 ms", "lower"],
  ["p99_ms", "latency p99 ms", "lower"],
  ["max_ms", "latency max ms", "lower"],
  ["lost", "lost", "lower"],
  ["duplicated", "duplicated", "lower"],
  ["reordered", "reordered", "lower"],
  ["error_frames", "error frames", "lower"],
  ["conn_per_s", "connections/s", "higher"],
  ["handshake_p99_ms", "handshake p99 ms", "lower"],
  ["req_per_s", "inject accepted req/s", "higher"],
  ["http_p99_ms", "inject HTTP p99 ms", "lower"],
  ["joins_per_s", "joins/s under load", "higher"],
  ["join_ready_p50_ms", "join→history done p50 ms", "lower"],
  ["join_ready_p99_ms", "join→history done p99 ms", "lower"],
  ["history_frames_per_join", "history frames per join", "none"],
  ["joiner_gaps", "gaps seen by joiners", "lower"],
  ["bare_join_s", "N bare joins done, s", "lower"],
  ["rich_join_s", "N rich joins done (all know N members), s", "lower"],
  ["rich_vs_bare", "rich joins / bare joins, time", "none"],
  ["leave_s", "all N leave: server idle again after, s", "lower"],
  ["frames_per_member", "frames received per member", "lower"],
  ["mb_received", "MB received by all members", "lower"],
  ["restart_s", "server restart, s", "none"],
  ["resumed_after_up_s", "all resumed after the server is up, s", "lower"],
  ["off_p50_ms", "hook off: latency p50 ms", "lower"],
  ["off_p99_ms", "hook off: latency p99 ms", "lower"],
  ["off_cpu_us_per_frame", "hook off: server CPU µs per delivered frame", "lower"],
  ["max_frames_per_s", "as fast as possible: delivered frames/s", "higher"],
  ["off_max_frames_per_s", "hook off, as fast as possible: delivered frames/s", "higher"],
  ["max_p99_ms", "as fast as possible: latency p99 ms", "lower"],
  ["off_max_p99_ms", "hook off, as fast as possible: latency p99 ms", "lower"],
  ["hook_calls", "publish hook calls", "none"],
  ["relays", "relays (ROOM_RELAYS)", "none"],
  ["msgs_per_s", "messages delivered to all/s", "higher"],
  ["first_p50_ms", "first member: latency p50 ms", "lower"],
  ["first_p99_ms", "first member: latency p99 ms", "lower"],
  ["last_p50_ms", "last member: latency p50 ms", "lower"],
  ["last_p99_ms", "last member: latency p99 ms", "lower"],
  ["fixed_cpu_us_per_frame", "server CPU µs per delivered frame", "lower"],
  ["fixed_cpu_us_per_msg", "server CPU µs per message", "lower"],
  ["fixed_cpu_user_us_per_frame", "user workerd CPU µs per delivered frame", "lower"],
  ["fixed_cpu_user_us_per_msg", "user workerd CPU µs per message", "lower"],
  ["max_msgs_per_s", "as fast as possible: messages delivered to all/s", "higher"],
  ["max_p50_ms", "as fast as possible: latency p50 ms", "lower"],
  ["max_first_p50_ms", "as fast as possible: first member p50 ms", "lower"],
  ["max_first_p99_ms", "as fast as possible: first member p99 ms", "lower"],
  ["max_last_p50_ms", "as fast as possible: last member p50 ms", "lower"],
  ["max_last_p99_ms", "as fast as possible: last member p99 ms", "lower"],
  ["max_cpu_us_per_frame", "as fast as possible: server CPU µs per delivered frame", "lower"],
  ["max_cpu_us_per_msg", "as fast as possible: server CPU µs per message", "lower"],
  ["max_cpu_user_us_per_frame", "as fast as possible: user workerd CPU µs per frame", "lower"],
  ["max_cpu_user_us_per_msg", "as fast as possible: user workerd CPU µs per message", "lower"],
  ["server_cpu_s", "server CPU s", "lower"],
  ["cpu_us_per_frame", "server CPU µs per delivered frame", "lower"],
  ["cpu_ms_per_conn", "server CPU ms per connection opened", "lower"],
  ["rss_mb", "server RSS MB (peak)", "lower"],
  ["rss_kb_per_conn", "RSS growth per open connection, KB", "lower"],
  ["loadgen_cpu_s", "load generator CPU s", "none"],
  ["other_cpu_s", "CPU s used by other processes", "none"],
  ["other_cpu_pct_of_core", "other processes' load, % of one core", "none"],
]);

/** Figures kept in the summary table (printed, and in docs/benchmark.md), per scenario. */
const FANOUT_SHORT = ["frames_per_s", "p50_ms", "p99_ms", "lost", "cpu_us_per_frame"];
const STORM_SHORT = [
  "conn_per_s",
  "bare_join_s",
  "rich_join_s",
  "rich_vs_bare",
  "leave_s",
  "frames_per_member",
  "mb_received",
  "cpu_ms_per_conn",
];
const GIANT_SHORT = [
  "max_frames_per_s",
  "max_msgs_per_s",
  "max_first_p50_ms",
  "max_last_p50_ms",
  "max_last_p99_ms",
  "max_cpu_us_per_frame",
  "max_cpu_user_us_per_frame",
  "frames_per_s",
  "first_p50_ms",
  "first_p99_ms",
  "last_p50_ms",
  "last_p99_ms",
  "fixed_cpu_us_per_frame",
  "lost",
  "duplicated",
  "reordered",
];
const SHORT_BY_SCENARIO = /** @type {Record<string, string[]>} */ ({
  giant2000: GIANT_SHORT,
  giant4000: GIANT_SHORT,
  giantrelays2000: GIANT_SHORT,
  giantrelays4000: GIANT_SHORT,
  fixed: FANOUT_SHORT,
  max100: FANOUT_SHORT,
  max1000: FANOUT_SHORT,
  rooms: FANOUT_SHORT,
  ramp: ["conn_per_s", "handshake_p99_ms", "cpu_ms_per_conn", "rss_kb_per_conn"],
  inject: ["req_per_s", "http_p99_ms", "p99_ms", "lost"],
  history: ["frames_per_s", "p99_ms", "lost", "join_ready_p99_ms", "joiner_gaps"],
  storm1000: STORM_SHORT,
  storm2000: STORM_SHORT,
  redeploy: ["resumed_after_up_s", "frames_per_member", "mb_received", "lost", "duplicated"],
  hook: [
    "p50_ms",
    "off_p50_ms",
    "p99_ms",
    "off_p99_ms",
    "max_frames_per_s",
    "off_max_frames_per_s",
    "lost",
    "error_frames",
  ],
});
const FANOUT = new Set(["fixed", "max100", "max1000", "rooms"]);

/** The figure a scenario is judged by first: the first of its summary figures. */
export function headlineKey(/** @type {string} */ scenario) {
  return /** @type {string} */ ((SHORT_BY_SCENARIO[scenario] ?? FANOUT_SHORT)[0]);
}

/** A figure as the tables print it: thousands separators, at most two decimals, "n/a" for none. */
export function fmt(/** @type {unknown} */ v) {
  if (v === null || v === undefined) return "n/a";
  if (typeof v !== "number") return String(v);
  if (Number.isInteger(v)) return v.toLocaleString("en-US");
  if (Math.abs(v) >= 100) return Math.round(v).toLocaleString("en-US");
  return String(Math.round(v * 100) / 100);
}

/** @param {unknown} a @param {unknown} b */
export function ratio(a, b) {
  if (typeof a !== "number" || typeof b !== "number") return null;
  if (b === 0) return a === 0 ? null : Infinity;
  return Math.round((a / b) * 100) / 100;
}

/** @param {number | null} r */
const fmtRatio = (r) => (r === null ? "–" : r === Infinity ? "∞" : `${r}x`);

/**
 * @typedef {{ scenario: string, label: string, target: string, figures?: Record<string, any>, error?: string }} Row
 */

/**
 * Rows of the comparison table: one per scenario and figure.
 * @param {Row[]} rows @param {string[]} targets @param {boolean} short
 */
export function tableRows(rows, targets, short) {
  /** @type {string[][]} */
  const out = [];
  const scenarios = [...new Set(rows.map((r) => r.scenario))];
  const hasMin = targets.includes("minimal") && targets.includes("project");
  const hasRaw = targets.includes("raw") && targets.includes("project");
  for (const scenario of scenarios) {
    const byTarget = new Map(rows.filter((r) => r.scenario === scenario).map((r) => [r.target, r]));
    const label = rows.find((r) => r.scenario === scenario)?.label ?? scenario;
    const errs = [...byTarget.values()].filter((r) => r.error);
    for (const e of errs) out.push([label, `FAILED (${e.target})`, String(e.error).slice(0, 120)]);
    const keys = short
      ? [...(SHORT_BY_SCENARIO[scenario] ?? FANOUT_SHORT), "other_cpu_pct_of_core"]
      : FIGURES.map((f) => f[0]);
    let first = true;
    for (const key of keys) {
      const values = targets.map((t) => byTarget.get(t)?.figures?.[key]);
      if (values.every((v) => v === null || v === undefined)) continue;
      const p = byTarget.get("project")?.figures?.[key];
      const row = [
        first ? label : "",
        FIGURES.find((f) => f[0] === key)?.[1] ?? key,
        ...values.map(fmt),
      ];
      // Context figures (load generator, other processes) get no ratio.
      const plain = FIGURES.find((f) => f[0] === key)?.[2] === "none";
      if (hasMin)
        row.push(plain ? "" : fmtRatio(ratio(p, byTarget.get("minimal")?.figures?.[key])));
      if (hasRaw) row.push(plain ? "" : fmtRatio(ratio(p, byTarget.get("raw")?.figures?.[key])));
      out.push(row);
      first = false;
    }
  }
  return out;
}

/** @param {string[]} targets */
export function tableHeader(targets) {
  const h = ["scenario", "figure", ...targets];
  if (targets.includes("minimal") && targets.includes("project")) h.push("project/minimal");
  if (targets.includes("raw") && targets.includes("project")) h.push("project/raw");
  return h;
}

const mdLine = (/** @type {string[]} */ cells) => `| ${cells.join(" | ")} |`;

/** @param {string[]} header @param {string[][]} rows */
export function markdownTable(header, rows) {
  const line = mdLine;
  return [
    line(header),
    line(header.map((_, i) => (i < 2 ? "---" : "---:"))),
    ...rows.map((r) => line([...r, ...Array(header.length - r.length).fill("")])),
  ].join("\n");
}

/** @param {string[]} header @param {string[][]} rows */
export function textTable(header, rows) {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (/** @type {string[]} */ cells) =>
    cells.map((c, i) => (i < 2 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join("  ");
  return [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n");
}

/**
 * The issue's targets, checked on one run's figures.
 * @param {Row[]} rows
 * @returns {{ target: string, ok: boolean | null, detail: string }[]}
 */
export function checkTargets(rows) {
  /** @param {string} s @param {string} t */
  const fig = (s, t) => rows.find((r) => r.scenario === s && r.target === t)?.figures;
  const out = [];
  for (const s of FANOUT) {
    const p = fig(s, "project");
    const m = fig(s, "minimal");
    if (!p || !m) continue;
    const fr = ratio(p.frames_per_s, m.frames_per_s);
    out.push({
      target: `${s}: frames/s ≥ 0.9x minimal`,
      ok: fr === null ? null : fr >= 0.9,
      detail: `${fmt(p.frames_per_s)} vs ${fmt(m.frames_per_s)} (${fmtRatio(fr)})`,
    });
    const pr = ratio(p.p99_ms, m.p99_ms);
    out.push({
      target: `${s}: p99 ≤ 1.2x minimal`,
      ok: pr === null ? null : pr <= 1.2,
      detail: `${fmt(p.p99_ms)} ms vs ${fmt(m.p99_ms)} ms (${fmtRatio(pr)})`,
    });
  }
  const pr = fig("ramp", "project");
  const mr = fig("ramp", "minimal");
  if (pr && mr) {
    const r = ratio(pr.conn_per_s, mr.conn_per_s);
    out.push({
      target: "ramp: connections/s ≥ 0.8x minimal",
      ok: r === null ? null : r >= 0.8,
      detail: `${fmt(pr.conn_per_s)} vs ${fmt(mr.conn_per_s)} (${fmtRatio(r)})`,
    });
  }
  for (const r of rows.filter((x) => x.target === "project")) {
    if (!r.figures) continue;
    const f = r.figures;
    const bad =
      (f.lost ?? 0) +
      (f.duplicated ?? 0) +
      (f.reordered ?? 0) +
      (f.joiner_gaps ?? 0) +
      (f.conn_failed ?? 0);
    out.push({
      target: `${r.scenario}: zero lost, duplicated, reordered`,
      ok: bad === 0,
      detail: `lost ${fmt(f.lost ?? 0)}, dup ${fmt(f.duplicated ?? 0)}, reordered ${fmt(f.reordered ?? 0)}${f.joiner_gaps !== undefined ? `, joiner gaps ${fmt(f.joiner_gaps)}` : ""}${f.conn_failed ? `, failed connects ${f.conn_failed}` : ""}`,
    });
  }
  // Issue 13: big rooms.
  for (const s of ["storm1000", "storm2000"]) {
    const p = fig(s, "project");
    const m = fig(s, "minimal");
    if (!p) continue;
    out.push({
      target: `${s}: rich joins take ≤ 1.5x the time of bare joins`,
      ok: p.rich_settled === true && p.rich_vs_bare <= 1.5,
      detail: `${fmt(p.rich_join_s)} s vs ${fmt(p.bare_join_s)} s (${fmtRatio(p.rich_vs_bare)})${p.rich_settled ? "" : ", not settled"}`,
    });
    out.push({
      target: `${s}: frames per member ≤ 50`,
      ok: p.frames_per_member <= 50,
      detail: `${fmt(p.frames_per_member)} per member for ${fmt(p.members)} members`,
    });
    if (m) {
      const r = ratio(p.conn_per_s, m.conn_per_s);
      out.push({
        target: `${s}: connections/s ≥ 0.8x minimal`,
        ok: r === null ? null : r >= 0.8,
        detail: `${fmt(p.conn_per_s)} vs ${fmt(m.conn_per_s)} (${fmtRatio(r)})`,
      });
    }
  }
  // Issue 23: a room over 4 relays against one object, same N, same sitting.
  for (const n of [2000, 4000]) {
    const one = fig(`giant${n}`, "project");
    const four = fig(`giantrelays${n}`, "project");
    if (!one || !four || one.members !== four.members) continue;
    const r = ratio(four.max_cpu_us_per_frame, one.max_cpu_us_per_frame);
    out.push({
      target: `giantrelays${n}: server CPU per delivered frame ≤ 1.15x one object's (${fmt(four.relays)} relays, ${fmt(four.members)} members, as fast as possible)`,
      ok: one.members >= 2000 && r !== null ? r <= 1.15 : null,
      detail: `${fmt(four.max_cpu_us_per_frame)} µs vs ${fmt(one.max_cpu_us_per_frame)} µs (${fmtRatio(r)}); at the fixed rate ${fmt(four.fixed_cpu_us_per_frame)} vs ${fmt(one.fixed_cpu_us_per_frame)} µs`,
    });
  }
  const rd = fig("redeploy", "project");
  if (rd)
    out.push({
      target: "redeploy: every member resumed, nothing lost or duplicated",
      ok: rd.resumed === true && rd.lost === 0 && rd.duplicated === 0,
      detail: `${fmt(rd.members)} members resumed ${fmt(rd.resumed_after_up_s)} s after the server was up${fig("redeploy", "minimal") ? ` (minimal room: ${fmt(fig("redeploy", "minimal")?.resumed_after_up_s)} s)` : ""}`,
    });
  const inj = fig("inject", "project");
  if (inj) {
    out.push({
      target: "inject: keeps up with the offered rate",
      ok: inj.req_accepted >= 0.98 * inj.req_offered && inj.req_rejected === 0,
      detail: `${fmt(inj.req_per_s)} req/s accepted, ${fmt(inj.req_accepted)}/${fmt(inj.req_offered)} requests, HTTP p99 ${fmt(inj.http_p99_ms)} ms (offered ${fmt(inj.req_offered_per_s)}/s)`,
    });
    const injMin = fig("inject", "minimal");
    if (injMin) {
      const r = ratio(inj.req_per_s, injMin.req_per_s);
      out.push({
        target: "inject: accepted req/s ≥ 0.95x minimal",
        ok: r === null ? null : r >= 0.95,
        detail: `${fmt(inj.req_per_s)} vs ${fmt(injMin.req_per_s)} (${fmtRatio(r)})`,
      });
    }
  }
  return out;
}
