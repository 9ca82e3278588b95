/**
 * @module charts
 * SVG charts of one benchmark run, written by hand (no plotting library or
 * service): each scenario's headline figure per target (frames/s,
 * connections/s, ...), latency p50/p99, and a curve per family of sized
 * scenarios (`storm1000`, `storm2000`, and any later `<name><members>` family
 * such as giant rooms), x = members.
 *
 * Every bar and point is a `<g class="bar">` / `<g class="point">` with
 * `data-scenario`, `data-target` and a `<title>` "<target>, <scenario label>:
 * <value> <unit>" (values as the tables print them), so a reader hovering,
 * a screen reader and the tests all see the figure the table shows.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { FIGURES, fmt, headlineKey } from "./report.mjs";

/** @typedef {import("./report.mjs").Row} Row */
/** @typedef {{ date?: string, quick?: boolean, machine?: { cpu?: string, cores?: number } }} RunMeta */
/** @typedef {{ file: string, title: string, svg: string }} Chart */

/** Okabe–Ito colours: distinct for colour-blind readers and in greyscale print. */
const PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#D55E00", "#56B4E9", "#000000"];
/** Pale versions of the palette, for the p99 extent behind a p50 bar. */
const PALE = ["#99C7E0", "#F5D899", "#99D8C7", "#EBC9DC", "#EEB799", "#BBE1F7", "#999999"];
const FONT = "DejaVu Sans, Liberation Sans, Arial, Helvetica, sans-serif";
const WIDTH = 820;
const INK = "#222222";
const GREY = "#555555";
const GRID = "#DDDDDD";

/** File names and titles of the headline figures' charts; another figure's are made from its key and label. */
const HEADLINES = /** @type {Record<string, [string, string]>} */ ({
  frames_per_s: ["throughput", "Throughput: delivered frames/s per scenario and server"],
  conn_per_s: ["connections", "Connections opened per second, per scenario and server"],
  req_per_s: ["inject", "Inject API: accepted requests/s"],
  resumed_after_up_s: [
    "redeploy",
    "Redeploy: seconds until every member resumed, after the server is up",
  ],
});

/** What the curves plot, when a family's rows have it. */
const CURVE_KEYS = /** @type {const} */ ([
  ["bare_join_s", "bare joins (every socket open)", ""],
  ["rich_join_s", "rich joins (all know N members)", "7 4"],
]);

/** Escapes text for SVG content and attribute values. */
export function escapeXml(/** @type {unknown} */ value) {
  return String(value)
    .replaceAll("&", "&amp;")
    .replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;")
    .replaceAll("'", "&apos;");
}

/** Rough width of a text in pixels at a font size (no font metrics without a browser). */
const textWidth = (/** @type {string} */ s, size = 12) => s.length * size * 0.58;

const num = (/** @type {number} */ x) => String(Math.round(x * 10) / 10);

/**
 * @param {number} x @param {number} y @param {string} s
 * @param {{ size?: number, anchor?: "start" | "middle" | "end", weight?: string, fill?: string, extra?: string }} [o]
 */
function text(x, y, s, o = {}) {
  return `<text x="${num(x)}" y="${num(y)}" font-size="${o.size ?? 12}"${o.anchor && o.anchor !== "start" ? ` text-anchor="${o.anchor}"` : ""}${o.weight ? ` font-weight="${o.weight}"` : ""} fill="${o.fill ?? INK}"${o.extra ?? ""}>${escapeXml(s)}</text>`;
}

/** @param {number} w @param {number} h @param {string} title @param {string[]} body */
function svgDocument(w, h, title, body) {
  return `<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${num(h)}" viewBox="0 0 ${w} ${num(h)}" font-family="${FONT}" role="img" aria-label="${escapeXml(title)}">
<title>${escapeXml(title)}</title>
<rect width="100%" height="100%" fill="#FFFFFF"/>
${body.join("\n")}
</svg>
`;
}

/** A round step near range/count: 1, 2 or 5 times a power of ten. */
function niceStep(/** @type {number} */ range, count = 6) {
  const raw = range / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const m = raw / power;
  return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * power;
}

/**
 * An axis from 0 (linear) or a decade below the smallest value (log) to a
 * round number above the largest.
 * @param {number[]} values positive numbers @param {boolean} log
 * @returns {{ min: number, max: number, ticks: number[], at: (v: number) => number }} at: 0..1
 */
function scale(values, log) {
  const hi = Math.max(...values);
  if (log) {
    const min = 10 ** Math.floor(Math.log10(Math.min(...values)));
    const max = 10 ** Math.ceil(Math.log10(hi * 1.0001));
    const decades = Math.round(Math.log10(max / min));
    /** @type {number[]} */
    const ticks = [];
    for (let d = min; d <= max * 1.0001; d *= 10) {
      ticks.push(d);
      if (decades <= 2 && d < max) ticks.push(2 * d, 5 * d);
    }
    const at = (/** @type {number} */ v) =>
      Math.log10(Math.max(v, min) / min) / Math.log10(max / min);
    return { min, max, ticks, at };
  }
  const step = niceStep(hi > 0 ? hi : 1);
  const max = Math.ceil((hi * 1.0001) / step) * step || step;
  /** @type {number[]} */
  const ticks = [];
  for (let t = 0; t <= max + step / 2; t += step) ticks.push(Math.round(t * 1e6) / 1e6);
  return { min: 0, max, ticks, at: (v) => v / max };
}

/** Tick labels: 0.5, 10, 1,000, 20k. */
function tickLabel(/** @type {number} */ v) {
  if (v >= 10_000) return `${fmt(v / 1000)}k`;
  return fmt(v);
}

/** @param {string[]} targets */
const colourOf = (targets) => (/** @type {string} */ t) =>
  PALETTE[Math.max(0, targets.indexOf(t)) % PALETTE.length] ?? INK;
/** @param {string[]} targets */
const paleOf = (targets) => (/** @type {string} */ t) =>
  PALE[Math.max(0, targets.indexOf(t)) % PALE.length] ?? GRID;

/** A one-line legend: a swatch (or line sample) and a label per entry, wrapping at the width. */
function legend(
  /** @type {{ label: string, colour: string, dash?: string, pale?: string }[]} */ entries,
  /** @type {number} */ y,
) {
  const out = [];
  let x = 20;
  for (const e of entries) {
    const w = 26 + textWidth(e.label) + 18;
    if (x + w > WIDTH - 20) {
      x = 20;
      y += 20;
    }
    if (e.dash !== undefined)
      out.push(
        `<line x1="${x}" y1="${y - 4}" x2="${x + 20}" y2="${y - 4}" stroke="${e.colour}" stroke-width="2.5"${e.dash ? ` stroke-dasharray="${e.dash}"` : ""}/>`,
      );
    else if (e.pale)
      out.push(
        `<rect x="${x}" y="${y - 10}" width="20" height="11" fill="${e.pale}"/><rect x="${x}" y="${y - 8}" width="11" height="7" fill="${e.colour}"/>`,
      );
    else out.push(`<rect x="${x}" y="${y - 10}" width="20" height="11" fill="${e.colour}"/>`);
    out.push(text(x + 26, y, e.label));
    x += w;
  }
  return { svg: out, bottom: y };
}

/** The title lines every chart opens with: what it shows, and which run. */
function heading(
  /** @type {string} */ title,
  /** @type {string} */ note,
  /** @type {RunMeta} */ meta,
) {
  const run = [
    meta.date,
    meta.quick ? "quick sizes (CI smoke run, not a measurement)" : "",
    meta.machine?.cpu ? `${meta.machine.cpu}, ${meta.machine.cores} cores` : "",
  ]
    .filter(Boolean)
    .join(", ");
  return [
    text(20, 28, title, { size: 16, weight: "bold" }),
    text(20, 47, [note, run].filter(Boolean).join(" · "), { size: 11.5, fill: GREY }),
  ];
}

/**
 * @typedef {{ target: string, value: number | null, inner?: number | null, label: string, title: string }} Bar
 * @typedef {{ scenario: string, label: string, bars: Bar[] }} BarGroup
 */

/**
 * Horizontal bars grouped by scenario, one per target, with the value
 * written at the end of each bar. With `inner`, a solid bar to `inner` over a
 * pale one to `value` (p50 over p99).
 * @param {{ title: string, note: string, axis: string, targets: string[], groups: BarGroup[], log: boolean, meta: RunMeta, legendExtra?: { label: string, colour: string, pale?: string }[] }} o
 */
function barChart(o) {
  const colour = colourOf(o.targets);
  const pale = paleOf(o.targets);
  const body = heading(o.title, o.note, o.meta);
  const lg = legend(
    [...o.targets.map((t) => ({ label: t, colour: colour(t) })), ...(o.legendExtra ?? [])],
    72,
  );
  body.push(...lg.svg);
  const nameWidth = Math.max(...o.targets.map((t) => textWidth(t, 11))) + 12;
  const x0 = 20 + nameWidth;
  const labelRoom = Math.max(
    90,
    ...o.groups.flatMap((g) => g.bars.map((b) => textWidth(b.label, 11) + 10)),
  );
  const x1 = WIDTH - 20 - Math.min(labelRoom, 260);
  const values = o.groups.flatMap((g) =>
    g.bars.flatMap((b) => [b.value, b.inner ?? null]).filter((v) => v !== null && v > 0),
  );
  const sc = scale(/** @type {number[]} */ (values.length ? values : [1]), o.log);
  const xOf = (/** @type {number} */ v) => x0 + sc.at(v) * (x1 - x0);
  const top = lg.bottom + 22;
  const rowH = 19;
  const barH = 13;
  let y = top;
  /** @type {string[]} */
  const bars = [];
  for (const g of o.groups) {
    y += 16;
    // A white band under the scenario's name hides the grid lines behind it.
    bars.push(
      `<rect x="18" y="${num(y - 15)}" width="${num(textWidth(g.label, 12.5) + 6)}" height="16" fill="#FFFFFF"/>`,
      text(20, y - 3, g.label, { size: 12.5, weight: "bold" }),
    );
    y += 2;
    for (const b of g.bars) {
      const yb = y + (rowH - barH) / 2;
      const parts = [`<title>${escapeXml(b.title)}</title>`];
      parts.push(text(x0 - 6, y + rowH / 2 + 4, b.target, { size: 11, anchor: "end", fill: GREY }));
      if (b.value !== null) {
        const w = Math.max(1, xOf(b.value) - x0);
        const hasInner = b.inner !== undefined && b.inner !== null;
        parts.push(
          `<rect x="${num(x0)}" y="${num(yb)}" width="${num(w)}" height="${barH}" fill="${hasInner ? pale(b.target) : colour(b.target)}"/>`,
        );
        if (hasInner)
          parts.push(
            `<rect x="${num(x0)}" y="${num(yb + 3)}" width="${num(Math.max(1, xOf(/** @type {number} */ (b.inner)) - x0))}" height="${barH - 6}" fill="${colour(b.target)}"/>`,
          );
        parts.push(text(x0 + w + 5, y + rowH / 2 + 4, b.label, { size: 11 }));
      } else parts.push(text(x0 + 5, y + rowH / 2 + 4, b.label, { size: 11, fill: GREY }));
      bars.push(
        `<g class="bar" data-scenario="${escapeXml(g.scenario)}" data-target="${escapeXml(b.target)}">${parts.join("")}</g>`,
      );
      y += rowH;
    }
    y += 8;
  }
  const bottom = y + 4;
  // Grid behind the bars, the axis below them.
  for (const t of sc.ticks) {
    const x = xOf(t);
    body.push(
      `<line x1="${num(x)}" y1="${num(top)}" x2="${num(x)}" y2="${num(bottom)}" stroke="${GRID}" stroke-width="1"/>`,
      text(x, bottom + 16, tickLabel(t), { size: 11, anchor: "middle", fill: GREY }),
    );
  }
  body.push(
    `<line x1="${num(x0)}" y1="${num(top)}" x2="${num(x0)}" y2="${num(bottom)}" stroke="${INK}" stroke-width="1"/>`,
    `<line x1="${num(x0)}" y1="${num(bottom)}" x2="${num(x1)}" y2="${num(bottom)}" stroke="${INK}" stroke-width="1"/>`,
    ...bars,
    text((x0 + x1) / 2, bottom + 36, o.axis, { size: 12, anchor: "middle" }),
  );
  return svgDocument(WIDTH, bottom + 50, o.title, body);
}

/** @param {Row[]} rows */
const scenariosOf = (rows) => [...new Set(rows.map((r) => r.scenario))];
/** @param {Row[]} rows @param {string} s */
const labelOf = (rows, s) => rows.find((r) => r.scenario === s)?.label ?? s;
/** @param {string} key */
const figureLabel = (key) => FIGURES.find((f) => f[0] === key)?.[1] ?? key;
/** @param {string} key */
const better = (key) => {
  const dir = FIGURES.find((f) => f[0] === key)?.[2];
  return dir === "higher" ? "higher is better" : dir === "lower" ? "lower is better" : "";
};

/** A bar for one row: its value, or why there is none. */
function headlineBar(
  /** @type {Row | undefined} */ row,
  /** @type {string} */ target,
  /** @type {string} */ key,
  /** @type {string} */ label,
) {
  const unit = figureLabel(key);
  if (!row || row.error) {
    const why = row?.error ? "failed" : "not run";
    return { target, value: null, label: why, title: `${target}, ${label}: ${why}` };
  }
  const v = row.figures?.[key];
  if (typeof v !== "number")
    return { target, value: null, label: "n/a", title: `${target}, ${label}: n/a` };
  return { target, value: v, label: fmt(v), title: `${target}, ${label}: ${fmt(v)} ${unit}` };
}

/** One chart per headline figure (frames/s, connections/s, ...) over the scenarios it heads. */
function headlineCharts(
  /** @type {Row[]} */ rows,
  /** @type {string[]} */ targets,
  /** @type {RunMeta} */ meta,
) {
  /** @type {Map<string, string[]>} */
  const byKey = new Map();
  for (const s of scenariosOf(rows)) {
    const key = headlineKey(s);
    byKey.set(key, [...(byKey.get(key) ?? []), s]);
  }
  return [...byKey].map(([key, scenarios]) => {
    const groups = scenarios.map((s) => {
      const label = labelOf(rows, s);
      return {
        scenario: s,
        label,
        bars: targets.map((t) =>
          headlineBar(
            rows.find((r) => r.scenario === s && r.target === t),
            t,
            key,
            label,
          ),
        ),
      };
    });
    const [name, title] = HEADLINES[key] ?? [
      key.replaceAll("_", "-"),
      `${figureLabel(key).replace(/^./, (c) => c.toUpperCase())}, per scenario and server`,
    ];
    return {
      file: `${name}.svg`,
      title,
      svg: barChart({
        title,
        note: better(key),
        axis: figureLabel(key),
        targets,
        groups,
        log: false,
        meta,
      }),
    };
  });
}

/** Latency p50 and p99 per scenario and target, on a log axis (0.8 ms to seconds in one run). */
function latencyChart(
  /** @type {Row[]} */ rows,
  /** @type {string[]} */ targets,
  /** @type {RunMeta} */ meta,
) {
  const scenarios = scenariosOf(rows).filter((s) =>
    rows.some((r) => r.scenario === s && typeof r.figures?.p99_ms === "number"),
  );
  if (!scenarios.length) return [];
  const groups = scenarios.map((s) => {
    const label = labelOf(rows, s);
    return {
      scenario: s,
      label,
      bars: targets.map((t) => {
        const row = rows.find((r) => r.scenario === s && r.target === t);
        const f = row?.figures;
        if (!row || row.error || typeof f?.p99_ms !== "number") {
          const why = row?.error ? "failed" : row ? "n/a" : "not run";
          return { target: t, value: null, label: why, title: `${t}, ${label}: ${why}` };
        }
        const p50 = typeof f.p50_ms === "number" ? f.p50_ms : null;
        const figures = `p50 ${fmt(p50)} · p99 ${fmt(f.p99_ms)} ms`;
        return {
          target: t,
          value: f.p99_ms,
          inner: p50,
          label: figures,
          title: `${t}, ${label}: ${figures}`,
        };
      }),
    };
  });
  const title = "Latency, send to delivery: p50 and p99 per scenario and server";
  return [
    {
      file: "latency.svg",
      title,
      svg: barChart({
        title,
        note: "lower is better; log scale",
        axis: "milliseconds (log scale)",
        targets,
        groups,
        log: true,
        meta,
        legendExtra: [{ label: "solid: p50, pale: p99", colour: GREY, pale: "#CCCCCC" }],
      }),
    },
  ];
}

/**
 * Families of sized scenarios (`storm1000`, `storm2000` → "storm"), each
 * with at least one row that reports `members`.
 * @param {Row[]} rows @returns {Map<string, string[]>}
 */
export function sizedFamilies(rows) {
  /** @type {Map<string, string[]>} */
  const families = new Map();
  for (const s of scenariosOf(rows)) {
    const m = /^([a-z][a-z-]*?)(\d+)$/.exec(s);
    if (!m || !rows.some((r) => r.scenario === s && typeof r.figures?.members === "number"))
      continue;
    const name = /** @type {string} */ (m[1]);
    families.set(name, [...(families.get(name) ?? []), s]);
  }
  return families;
}

/** One line chart per family: x = members, y = each curve figure, a line per target and figure. */
function curveCharts(
  /** @type {Row[]} */ rows,
  /** @type {string[]} */ targets,
  /** @type {RunMeta} */ meta,
) {
  /** @type {Chart[]} */
  const out = [];
  for (const [family, scenarios] of sizedFamilies(rows)) {
    const familyRows = rows.filter((r) => scenarios.includes(r.scenario) && !r.error && r.figures);
    const present = CURVE_KEYS.filter(([k]) =>
      familyRows.some((r) => typeof r.figures?.[k] === "number"),
    );
    const headline = headlineKey(/** @type {string} */ (scenarios[0]));
    /** @type {(readonly [string, string, string])[]} */
    const keys = present.length ? present : [[headline, figureLabel(headline), ""]];
    /** @type {{ target: string, key: string, name: string, dash: string, points: { x: number, y: number, scenario: string, label: string }[] }[]} */
    const lines = [];
    for (const t of targets)
      for (const [key, name, dash] of keys) {
        const points = familyRows
          .filter((r) => r.target === t && typeof r.figures?.[key] === "number")
          .map((r) => ({
            x: /** @type {number} */ (r.figures?.members),
            y: /** @type {number} */ (r.figures?.[key]),
            scenario: r.scenario,
            label: r.label,
          }))
          .toSorted((a, b) => a.x - b.x);
        if (points.length) lines.push({ target: t, key, name, dash, points });
      }
    if (!lines.length) continue;
    const yUnit = present.length
      ? "seconds until all N members have joined"
      : figureLabel(headline);
    const title = `${family}: ${yUnit}, by room size`;
    const body = heading(
      title,
      present.length ? "lower is better; a point per scenario (N members)" : better(headline),
      meta,
    );
    const colour = colourOf(targets);
    const lg = legend(
      lines.map((l) => ({
        label: `${l.target}, ${l.name}`,
        colour: colour(l.target),
        dash: l.dash,
      })),
      72,
    );
    body.push(...lg.svg);
    const x0 = 80;
    const x1 = WIDTH - 40;
    const y0 = lg.bottom + 30;
    const y1 = y0 + 300;
    const xs = scale(
      lines.flatMap((l) => l.points.map((p) => p.x)),
      false,
    );
    const ys = scale(
      lines
        .flatMap((l) => l.points.map((p) => p.y))
        .filter((v) => v > 0)
        .concat([0.001]),
      false,
    );
    const X = (/** @type {number} */ v) => x0 + xs.at(v) * (x1 - x0);
    const Y = (/** @type {number} */ v) => y1 - ys.at(v) * (y1 - y0);
    for (const t of xs.ticks)
      body.push(
        `<line x1="${num(X(t))}" y1="${y0}" x2="${num(X(t))}" y2="${y1}" stroke="${GRID}"/>`,
        text(X(t), y1 + 18, tickLabel(t), { size: 11, anchor: "middle", fill: GREY }),
      );
    for (const t of ys.ticks)
      body.push(
        `<line x1="${x0}" y1="${num(Y(t))}" x2="${x1}" y2="${num(Y(t))}" stroke="${GRID}"/>`,
        text(x0 - 8, Y(t) + 4, tickLabel(t), { size: 11, anchor: "end", fill: GREY }),
      );
    body.push(
      `<line x1="${x0}" y1="${y0}" x2="${x0}" y2="${y1}" stroke="${INK}"/>`,
      `<line x1="${x0}" y1="${y1}" x2="${x1}" y2="${y1}" stroke="${INK}"/>`,
      text((x0 + x1) / 2, y1 + 40, "members in the room (N)", { anchor: "middle" }),
      text(22, (y0 + y1) / 2, present.length ? "seconds" : figureLabel(headline), {
        anchor: "middle",
        extra: ` transform="rotate(-90 22 ${num((y0 + y1) / 2)})"`,
      }),
    );
    // Value labels beside their points: left of the smallest room (the lines
    // leave to the right), right of the others; pushed apart where they meet.
    const xMin = Math.min(...lines.flatMap((l) => l.points.map((p) => p.x)));
    /** @type {Map<string, number>} */
    const labelY = new Map();
    for (const x of new Set(lines.flatMap((l) => l.points.map((p) => p.x)))) {
      const here = lines
        .flatMap((l) =>
          l.points
            .filter((p) => p.x === x)
            .map((p) => ({ id: `${l.target}/${l.key}/${x}`, y: Y(p.y) + 4 })),
        )
        .toSorted((a, b) => a.y - b.y);
      let last = -Infinity;
      for (const h of here) {
        h.y = Math.max(h.y, last + 13);
        last = h.y;
        labelY.set(h.id, h.y);
      }
    }
    for (const l of lines) {
      const c = colour(l.target);
      if (l.points.length > 1)
        body.push(
          `<polyline points="${l.points.map((p) => `${num(X(p.x))},${num(Y(p.y))}`).join(" ")}" fill="none" stroke="${c}" stroke-width="2.5"${l.dash ? ` stroke-dasharray="${l.dash}"` : ""}/>`,
        );
      for (const p of l.points) {
        const marker = l.dash
          ? `<rect x="${num(X(p.x) - 4.5)}" y="${num(Y(p.y) - 4.5)}" width="9" height="9" fill="#FFFFFF" stroke="${c}" stroke-width="2"/>`
          : `<circle cx="${num(X(p.x))}" cy="${num(Y(p.y))}" r="4.5" fill="${c}"/>`;
        body.push(
          `<g class="point" data-scenario="${escapeXml(p.scenario)}" data-target="${escapeXml(l.target)}" data-figure="${escapeXml(l.key)}"><title>${escapeXml(`${l.target}, ${l.name}, ${p.label}: ${fmt(p.y)} ${present.length ? "s" : figureLabel(l.key)}`)}</title>${marker}${text(X(p.x) + (p.x === xMin ? -9 : 9), labelY.get(`${l.target}/${l.key}/${p.x}`) ?? Y(p.y), fmt(p.y), { size: 11, anchor: p.x === xMin ? "end" : "start", fill: c === PALETTE[1] ? "#8A5A00" : c })}</g>`,
        );
      }
    }
    out.push({ file: `${family}-curve.svg`, title, svg: svgDocument(WIDTH, y1 + 56, title, body) });
  }
  return out;
}

/**
 * Every chart of one run: headline figures, latency, and the curves of
 * sized-scenario families.
 * @param {Row[]} rows @param {string[]} targets @param {RunMeta} [meta]
 * @returns {Chart[]}
 */
export function renderCharts(rows, targets, meta = {}) {
  return [
    ...headlineCharts(rows, targets, meta),
    ...latencyChart(rows, targets, meta),
    ...curveCharts(rows, targets, meta),
  ];
}

/**
 * Writes a run's charts to `<base>-charts/` (base = the results file without
 * `.json`) and returns them with their paths.
 * @param {string} base @param {Row[]} rows @param {string[]} targets @param {RunMeta} [meta]
 */
export function writeCharts(base, rows, targets, meta = {}) {
  const dir = `${base}-charts`;
  mkdirSync(dir, { recursive: true });
  return renderCharts(rows, targets, meta).map((c) => {
    const path = join(dir, c.file);
    writeFileSync(path, c.svg);
    return { ...c, path };
  });
}

/** The report's section that shows a run's charts (paths relative to the report). */
export function chartsMarkdown(/** @type {string} */ base, /** @type {Chart[]} */ charts) {
  const dir = `${basename(base)}-charts`;
  return `\n## Charts\n\n${charts.map((c) => `![${c.title}](${dir}/${c.file})`).join("\n\n")}\n`;
}
