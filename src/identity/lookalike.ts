/**
 * @module lookalike
 * How a name reads, roughly, after Unicode's confusable skeletons (UTS #39):
 * two names with the same skeleton can pass for each other on screen. Used to
 * refuse public rooms that read as `private-…` and to flag a guest whose name
 * reads as a verified member's. Never stored or shown; only compared.
 */
import { CONFUSABLES } from "./confusables";

/** Character -> ASCII skeleton, from the generated table (src/confusables.ts). */
const LOOKALIKES = new Map<string, string>(
  CONFUSABLES.split(" ").map((entry) => {
    const ch = String.fromCodePoint(entry.codePointAt(0)!);
    return [ch, entry.slice(ch.length)];
  }),
);

const lookalikes = (text: string) => text.replace(/./gu, (ch) => LOOKALIKES.get(ch) ?? ch);

/**
 * Compatibility forms folded (fullwidth letters), accents dropped, every
 * character Unicode's confusables data draws like an ASCII letter, digit or
 * dash mapped to it (small capitals too), case folded, every dash made "-",
 * and "rn"/"vv" read as "m"/"w". The table is looked up before and after case
 * folding, so both cases of a look-alike letter are caught.
 */
export function skeleton(text: string): string {
  const mapped = lookalikes(text.normalize("NFKD").replace(/\p{M}/gu, ""));
  return lookalikes(mapped.toUpperCase().toLowerCase())
    .replace(/\p{Dash}/gu, "-")
    .replaceAll("rn", "m")
    .replaceAll("vv", "w");
}

/** True when `a` and `b` can pass for each other on screen. */
export function looksAlike(a: string, b: string): boolean {
  return skeleton(a) === skeleton(b);
}
