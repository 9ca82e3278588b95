/**
 * @module lookalike
 * How a name reads, roughly, in the spirit of Unicode's confusable
 * skeletons (UTS #39): two names with the same skeleton can pass for each
 * other on screen. Used to refuse public rooms that read as `private-…` and
 * to flag a guest whose name reads as a verified member's. Never stored or
 * shown; only compared.
 */

/** Characters drawn like a Latin letter or digit, after case folding (UTS #39 confusables). */
const LOOKALIKES: Record<string, string> = {
  // Cyrillic
  а: "a",
  в: "b",
  г: "r",
  ԁ: "d",
  е: "e",
  һ: "h",
  і: "i",
  ӏ: "i",
  ј: "j",
  к: "k",
  м: "m",
  п: "n",
  о: "o",
  р: "p",
  ԛ: "q",
  ѕ: "s",
  т: "t",
  у: "y",
  ѵ: "v",
  ԝ: "w",
  х: "x",
  // Greek
  α: "a",
  ε: "e",
  ι: "i",
  ϳ: "j",
  κ: "k",
  ν: "v",
  ο: "o",
  ρ: "p",
  ϲ: "c",
  τ: "t",
  υ: "u",
  χ: "x",
  // Latin and digits that pass for other letters
  ı: "i",
  l: "i",
  "1": "i",
  "|": "i",
  "0": "o",
  ɑ: "a",
  ɡ: "g",
  ᴠ: "v",
  // Marks drawn as a dash
  "˗": "-",
  ー: "-",
  "─": "-",
  "━": "-",
  "⎯": "-",
};

/**
 * Compatibility forms folded (fullwidth letters), accents dropped, case
 * folded, look-alike letters and every dash mapped to one ASCII twin, and
 * "rn"/"vv" read as "m"/"w".
 */
export function skeleton(text: string): string {
  return text
    .normalize("NFKD")
    .replace(/\p{M}/gu, "")
    .toUpperCase()
    .toLowerCase()
    .replace(/\p{Dash}/gu, "-")
    .replace(/./gu, (ch) => LOOKALIKES[ch] ?? ch)
    .replaceAll("rn", "m")
    .replaceAll("vv", "w");
}

/** True when `a` and `b` can pass for each other on screen. */
export function looksAlike(a: string, b: string): boolean {
  return skeleton(a) === skeleton(b);
}
