/**
 * @module format
 * Small display helpers shared by the pages.
 */

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: "numeric", minute: "2-digit" });
const dateTimeFormat = new Intl.DateTimeFormat(undefined, {
  month: "short",
  day: "numeric",
  hour: "numeric",
  minute: "2-digit",
});
const fullFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "full", timeStyle: "medium" });

/** "14:05" today, "Nov 3, 14:05" on other days. */
export function shortTime(ts: number, now = new Date()): string {
  const date = new Date(ts);
  return date.toDateString() === now.toDateString()
    ? timeFormat.format(date)
    : dateTimeFormat.format(date);
}

export function fullTime(ts: number): string {
  return fullFormat.format(new Date(ts));
}

const segmenter =
  typeof Intl.Segmenter === "function"
    ? new Intl.Segmenter(undefined, { granularity: "grapheme" })
    : null;

/** The first user-perceived character of a name (a whole emoji or 汉字), upper-cased. */
export function initial(name: string): string {
  const first = segmenter
    ? segmenter.segment(name)[Symbol.iterator]().next().value?.segment
    : Array.from(name)[0];
  return (first ?? "?").toLocaleUpperCase();
}

/** A stable hue for a name, so each author keeps one avatar colour. */
export function hue(name: string): number {
  // FNV-1a, then a final mix so similar names get far-apart hues.
  let h = 0x811c9dc5;
  for (const ch of name) h = Math.imul(h ^ ch.codePointAt(0)!, 0x01000193);
  h = Math.imul(h ^ (h >>> 16), 0x45d9f3b);
  return ((h ^ (h >>> 16)) >>> 0) % 360;
}
