// The benchmark's SVG charts (bench/lib/charts.mjs), from a small results
// object: each chart is well-formed XML, has one bar or point per target per
// scenario whose title carries the figure as the tables print it, escapes
// the text it is given, and picks up a new family of sized scenarios by itself.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { escapeXml, renderCharts } from "../bench/lib/charts.mjs";

interface XmlElement {
  name: string;
  attrs: Record<string, string>;
  children: (XmlElement | string)[];
}

const ENTITIES: Record<string, string> = { lt: "<", gt: ">", amp: "&", quot: '"', apos: "'" };

function decode(raw: string, where: number): string {
  if (raw.includes("<")) throw new Error(`"<" in character data at ${where}`);
  return raw.replace(/&([^;]*);|&/g, (whole, name: string | undefined) => {
    if (name === undefined) throw new Error(`bare "&" at ${where}`);
    if (name in ENTITIES) return ENTITIES[name]!;
    const code = /^#x([0-9a-f]+)$/i.exec(name)?.[1] ?? /^#(\d+)$/.exec(name)?.[1];
    if (code === undefined) throw new Error(`unknown entity ${whole} at ${where}`);
    return String.fromCodePoint(parseInt(code, name.startsWith("#x") ? 16 : 10));
  });
}

/**
 * A strict parser for the XML that SVG files use (prolog, elements, quoted
 * attributes, entities, comments): throws on anything not well-formed.
 */
function parseXml(src: string): XmlElement {
  let i = 0;
  const prolog = /^<\?xml[^?]*\?>/.exec(src);
  if (prolog) i = prolog[0].length;
  const root: XmlElement = { name: "#document", attrs: {}, children: [] };
  const stack: XmlElement[] = [root];
  const NAME = /[A-Za-z_][\w.:-]*/y;
  const readName = () => {
    NAME.lastIndex = i;
    const m = NAME.exec(src);
    if (!m) throw new Error(`expected a name at ${i}`);
    i += m[0].length;
    return m[0];
  };
  const skipSpace = () => {
    while (/\s/.test(src[i] ?? "")) i++;
  };
  while (i < src.length) {
    const top = stack.at(-1)!;
    if (src.startsWith("<!--", i)) {
      const end = src.indexOf("-->", i);
      if (end < 0) throw new Error("unterminated comment");
      i = end + 3;
    } else if (src.startsWith("</", i)) {
      i += 2;
      const name = readName();
      skipSpace();
      if (src[i] !== ">") throw new Error(`expected ">" at ${i}`);
      i++;
      if (stack.length === 1 || top.name !== name)
        throw new Error(`</${name}> closes <${top.name}> at ${i}`);
      stack.pop();
    } else if (src[i] === "<") {
      i++;
      const element: XmlElement = { name: readName(), attrs: {}, children: [] };
      for (;;) {
        const before = i;
        skipSpace();
        if (src.startsWith("/>", i) || src[i] === ">") break;
        if (i === before) throw new Error(`expected a space before an attribute at ${i}`);
        const attr = readName();
        if (attr in element.attrs) throw new Error(`duplicate attribute ${attr} at ${i}`);
        if (src[i] !== "=") throw new Error(`expected "=" at ${i}`);
        const quote = src[i + 1];
        if (quote !== '"' && quote !== "'") throw new Error(`unquoted attribute at ${i}`);
        const end = src.indexOf(quote, i + 2);
        if (end < 0) throw new Error("unterminated attribute");
        element.attrs[attr] = decode(src.slice(i + 2, end), i);
        i = end + 1;
      }
      top.children.push(element);
      if (src.startsWith("/>", i)) i += 2;
      else {
        i++;
        stack.push(element);
      }
    } else {
      const end = src.indexOf("<", i);
      const raw = src.slice(i, end < 0 ? src.length : end);
      const value = decode(raw, i);
      if (stack.length === 1) {
        if (value.trim() !== "") throw new Error(`text outside the root element at ${i}`);
      } else top.children.push(value);
      i += raw.length;
    }
  }
  if (stack.length !== 1) throw new Error(`<${stack.at(-1)!.name}> is never closed`);
  const elements = root.children.filter((c): c is XmlElement => typeof c !== "string");
  if (elements.length !== 1) throw new Error(`${elements.length} root elements`);
  return elements[0]!;
}

function all(el: XmlElement, test: (e: XmlElement) => boolean): XmlElement[] {
  const kids = el.children.filter((c): c is XmlElement => typeof c !== "string");
  return [...(test(el) ? [el] : []), ...kids.flatMap((k) => all(k, test))];
}

function textOf(el: XmlElement): string {
  return el.children.map((c) => (typeof c === "string" ? c : textOf(c))).join("");
}

const marks = (svg: XmlElement, kind: "bar" | "point", scenario: string) =>
  all(svg, (e) => e.attrs.class === kind && e.attrs["data-scenario"] === scenario);

const titleOf = (el: XmlElement) =>
  textOf(all(el, (e) => e.name === "title")[0] ?? { name: "", attrs: {}, children: [] });

const TARGETS = ["project", "minimal", "raw"];
const TRICKY = `fan-out <b>&amp;</b> "quoted" & 'single'`;

const rows = [
  ...[
    ["project", 30239, 59.29, 120.16],
    ["minimal", 20307, 95.58, 163.58],
    ["raw", 109324, 15.17, 45.77],
  ].map(([target, frames_per_s, p50_ms, p99_ms]) => ({
    scenario: "max100",
    label: TRICKY,
    target: target as string,
    figures: { frames_per_s, p50_ms, p99_ms, lost: 0 },
  })),
  { scenario: "ramp", label: "2,000 connections", target: "project", figures: { conn_per_s: 509 } },
  { scenario: "ramp", label: "2,000 connections", target: "minimal", error: "server died" },
  { scenario: "ramp", label: "2,000 connections", target: "raw", figures: { conn_per_s: 5658 } },
  ...[1000, 2000].flatMap((members) => [
    {
      scenario: `storm${members}`,
      label: `storm: ${members} members`,
      target: "project",
      figures: {
        members,
        conn_per_s: 400,
        bare_join_s: members / 400,
        rich_join_s: members / 350,
      },
    },
    ...["minimal", "raw"].map((target) => ({
      scenario: `storm${members}`,
      label: `storm: ${members} members`,
      target,
      figures: { members, conn_per_s: 500, bare_join_s: members / 500 },
    })),
  ]),
  // A family that does not exist yet: its curve must appear without code changes.
  ...[10000, 20000].map((members) => ({
    scenario: `giant${members}`,
    label: `giant: ${members} members`,
    target: "project",
    figures: { members, frames_per_s: members * 3, p50_ms: 10, p99_ms: 20 },
  })),
];

describe("bench charts", () => {
  const charts = renderCharts(rows, TARGETS, {
    date: "2026-12-02",
    quick: false,
    machine: { cpu: "Test CPU <2 GHz>", cores: 2 },
  });
  const byFile = new Map(charts.map((c) => [c.file, parseXml(c.svg)]));
  const chart = (file: string) => {
    const svg = byFile.get(file);
    assert.ok(svg, `${file} among ${[...byFile.keys()].join(", ")}`);
    return svg;
  };

  it("writes well-formed SVG documents with a title and no external resources", () => {
    assert.deepEqual(
      charts.map((c) => c.file),
      ["throughput.svg", "connections.svg", "latency.svg", "storm-curve.svg", "giant-curve.svg"],
    );
    for (const c of charts) {
      const svg = parseXml(c.svg);
      assert.equal(svg.name, "svg");
      assert.equal(svg.attrs.xmlns, "http://www.w3.org/2000/svg");
      assert.ok(titleOf(svg).length > 0);
      assert.doesNotMatch(c.svg, /href|@import|url\(/, `${c.file} loads nothing`);
    }
  });

  it("draws one bar per target per scenario with the table's value in its title", () => {
    const svg = chart("throughput.svg");
    const bars = marks(svg, "bar", "max100");
    assert.deepEqual(
      bars.map((b) => b.attrs["data-target"]),
      TARGETS,
    );
    assert.deepEqual(bars.map(titleOf), [
      `project, ${TRICKY}: 30,239 delivered frames/s`,
      `minimal, ${TRICKY}: 20,307 delivered frames/s`,
      `raw, ${TRICKY}: 109,324 delivered frames/s`,
    ]);
    // The value is written at the bar too, not only in the tooltip.
    assert.match(textOf(bars[2]!), /109,324/);
    // giant10000's headline is frames/s as well: it joins this chart.
    assert.equal(marks(svg, "bar", "giant10000").length, 3);
  });

  it("shows a failed measurement as failed, without a bar", () => {
    const bars = marks(chart("connections.svg"), "bar", "ramp");
    assert.deepEqual(bars.map(titleOf), [
      "project, 2,000 connections: 509 connections/s",
      "minimal, 2,000 connections: failed",
      "raw, 2,000 connections: 5,658 connections/s",
    ]);
    assert.equal(all(bars[1]!, (e) => e.name === "rect").length, 0);
    assert.equal(all(bars[0]!, (e) => e.name === "rect").length, 1);
  });

  it("draws p50 and p99 of every target on the latency chart", () => {
    const bars = marks(chart("latency.svg"), "bar", "max100");
    assert.deepEqual(bars.map(titleOf), [
      `project, ${TRICKY}: p50 59.29 · p99 120 ms`,
      `minimal, ${TRICKY}: p50 95.58 · p99 164 ms`,
      `raw, ${TRICKY}: p50 15.17 · p99 45.77 ms`,
    ]);
    for (const bar of bars) assert.equal(all(bar, (e) => e.name === "rect").length, 2);
    // Scenarios without latency figures (ramp) are not on it.
    assert.equal(marks(chart("latency.svg"), "bar", "ramp").length, 0);
  });

  it("draws the storm curve: a point per target, figure and room size", () => {
    const svg = chart("storm-curve.svg");
    for (const scenario of ["storm1000", "storm2000"]) {
      const points = marks(svg, "point", scenario);
      assert.deepEqual(
        points.map((p) => `${p.attrs["data-target"]}/${p.attrs["data-figure"]}`),
        ["project/bare_join_s", "project/rich_join_s", "minimal/bare_join_s", "raw/bare_join_s"],
      );
    }
    assert.deepEqual(marks(svg, "point", "storm2000").map(titleOf), [
      "project, bare joins (every socket open), storm: 2000 members: 5 s",
      "project, rich joins (all know N members), storm: 2000 members: 5.71 s",
      "minimal, bare joins (every socket open), storm: 2000 members: 4 s",
      "raw, bare joins (every socket open), storm: 2000 members: 4 s",
    ]);
    assert.equal(all(svg, (e) => e.name === "polyline").length, 4);
  });

  it("picks up a new family of sized scenarios, plotting its headline figure", () => {
    const points = all(chart("giant-curve.svg"), (e) => e.attrs.class === "point");
    assert.deepEqual(points.map(titleOf), [
      "project, delivered frames/s, giant: 10000 members: 30,000 delivered frames/s",
      "project, delivered frames/s, giant: 20000 members: 60,000 delivered frames/s",
    ]);
  });

  it("escapes labels and run details instead of emitting markup", () => {
    const svg = chart("throughput.svg");
    assert.equal(textOf(all(svg, (e) => e.name === "text" && textOf(e) === TRICKY)[0]!), TRICKY);
    const raw = charts.find((c) => c.file === "throughput.svg")!.svg;
    assert.doesNotMatch(raw, /<b>|<2 GHz>/);
    assert.match(textOf(svg), /Test CPU <2 GHz>, 2 cores/);
    assert.equal(escapeXml(`<a href="x">&'`), "&lt;a href=&quot;x&quot;&gt;&amp;&apos;");
  });

  it("parses only well-formed XML (the checker above can fail)", () => {
    for (const bad of [
      "<svg><g></svg>",
      "<svg a=1/>",
      '<svg a="1" a="2"/>',
      "<svg>&nope;</svg>",
      "<svg>a & b</svg>",
      "<svg/><svg/>",
      '<svg a="<"/>',
    ])
      assert.throws(() => parseXml(bad), Error, bad);
  });
});
