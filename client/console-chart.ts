/**
 * @module console-chart
 * The console's chart: messages per second and members over the last 1, 5
 * or 15 minutes, as two lines in an inline SVG built with DOM calls (no
 * chart library, no innerHTML). Samples are kept here; `draw` redraws from them.
 */

const SVG = "http://www.w3.org/2000/svg";
/** The longest window shown; samples older than this are dropped. */
export const KEEP_MS = 15 * 60_000;
/** Points per line: the window is cut into this many buckets (1 s each for a minute). */
const BUCKETS = 60;
const WIDTH = 360;
const HEIGHT = 150;
const PAD = { left: 26, right: 26, top: 10, bottom: 18 };

/** Messages per second (by each message's own time) and member counts (by poll time). */
export class ActivitySeries {
  /** Message counts per whole second (ms at the second's start). */
  readonly #perSecond = new Map<number, number>();
  readonly #members: { at: number; count: number }[] = [];

  /** Counts a message at its time `ts` (ms). */
  message(ts: number): void {
    const second = Math.floor(ts / 1000) * 1000;
    this.#perSecond.set(second, (this.#perSecond.get(second) ?? 0) + 1);
  }

  /** Records how many members the room had at `at`. */
  members(at: number, count: number): void {
    this.#members.push({ at, count });
  }

  /** Drops what fell out of the window. */
  trim(now: number): void {
    for (const second of this.#perSecond.keys())
      if (second < now - KEEP_MS) this.#perSecond.delete(second);
    while (this.#members.length > 0 && this.#members[0]!.at < now - KEEP_MS) this.#members.shift();
  }

  /** Messages per second over the last `seconds` whole seconds before `now`. */
  rate(now: number, seconds = 10): number {
    const end = Math.floor(now / 1000) * 1000;
    let sum = 0;
    for (let s = end - seconds * 1000; s < end; s += 1000) sum += this.#perSecond.get(s) ?? 0;
    return sum / seconds;
  }

  /** One point per bucket of the window: [bucket start, messages per second in it]. */
  ratePoints(now: number, windowMs: number): [number, number][] {
    const bucketMs = windowMs / BUCKETS;
    const end = Math.floor(now / 1000) * 1000;
    const start = end - windowMs;
    const sums = Array.from({ length: BUCKETS + 1 }, () => 0);
    for (const [second, n] of this.#perSecond)
      if (second >= start && second <= end) sums[Math.floor((second - start) / bucketMs)]! += n;
    return sums.map((sum, i) => [start + i * bucketMs, sum / (bucketMs / 1000)]);
  }

  memberPoints(): [number, number][] {
    return this.#members.map((m) => [m.at, m.count]);
  }
}

function el<K extends keyof SVGElementTagNameMap>(
  name: K,
  attrs: Record<string, string | number>,
  text?: string,
): SVGElementTagNameMap[K] {
  const node = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}

/** A round top for an axis: 1, 2, 5, 10, 20, 50 … at least `max`. */
function niceTop(max: number): number {
  if (max <= 1) return 1;
  const step = 10 ** Math.floor(Math.log10(max));
  for (const m of [1, 2, 5, 10]) if (m * step >= max) return m * step;
  return 10 * step;
}

function path(points: [number, number][], now: number, windowMs: number, top: number): string {
  const x = (t: number) =>
    PAD.left + (Math.max(0, t - (now - windowMs)) / windowMs) * (WIDTH - PAD.left - PAD.right);
  const y = (v: number) => HEIGHT - PAD.bottom - (v / top) * (HEIGHT - PAD.top - PAD.bottom);
  return points
    .map(([t, v], i) => `${i === 0 ? "M" : "L"}${x(t).toFixed(1)},${y(v).toFixed(1)}`)
    .join("");
}

/** Redraws the chart into `svg` for the last `windowMs`: messages/s on the left axis, members on the right. */
export function draw(
  svg: SVGSVGElement,
  series: ActivitySeries,
  now: number,
  windowMs: number,
): void {
  const rate = series.ratePoints(now, windowMs);
  const members = series.memberPoints().filter(([t]) => t >= now - windowMs);
  const rateTop = niceTop(Math.max(...rate.map(([, v]) => v)));
  const memberTop = niceTop(Math.max(0, ...members.map(([, v]) => v)));
  const bottom = HEIGHT - PAD.bottom;
  const right = WIDTH - PAD.right;
  const nodes: SVGElement[] = [
    el("line", { class: "axis", x1: PAD.left, y1: bottom, x2: right, y2: bottom }),
    el("line", { class: "grid", x1: PAD.left, y1: PAD.top, x2: right, y2: PAD.top }),
    el(
      "text",
      { class: "tick rate", x: PAD.left - 4, y: PAD.top + 4, "text-anchor": "end" },
      String(rateTop),
    ),
    el("text", { class: "tick rate", x: PAD.left - 4, y: bottom, "text-anchor": "end" }, "0"),
    el("text", { class: "tick members", x: right + 4, y: PAD.top + 4 }, String(memberTop)),
    el("text", { class: "tick members", x: right + 4, y: bottom }, "0"),
    el("text", { class: "tick", x: PAD.left, y: HEIGHT - 4 }, `−${windowMs / 60_000} min`),
    el("text", { class: "tick", x: right, y: HEIGHT - 4, "text-anchor": "end" }, "now"),
    el("path", { class: "line rate", d: path(rate, now, windowMs, rateTop) }),
  ];
  if (members.length > 0) {
    // Held flat until now: the count stays what the last poll saw.
    const last = members.at(-1)!;
    nodes.push(
      el("path", {
        class: "line members",
        d: path([...members, [now, last[1]]], now, windowMs, memberTop),
      }),
    );
  }
  svg.replaceChildren(...nodes);
}
