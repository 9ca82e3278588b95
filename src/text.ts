/**
 * @module text
 * Rules shared by every user-supplied label (room names, display names).
 */

export type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };

/** Cc (C0/C1 controls) plus the line and paragraph separators. */
const CONTROL = /[\p{Cc}\u2028\u2029]/u;

export function hasControlChar(text: string): boolean {
  return CONTROL.test(text);
}

export function toHex(bytes: ArrayBuffer | Uint8Array): string {
  return Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Length in Unicode code points, so one emoji or one 汉字 counts once. */
export function charCount(text: string): number {
  let n = 0;
  for (const _ of text) n++;
  return n;
}
