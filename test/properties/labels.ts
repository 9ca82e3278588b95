/**
 * @module labels
 * Room and display names built from the documented rules (docs/protocol.md
 * "Room names", docs/identity.md "Names that cannot hide or imitate"), each
 * labelled as it is built with the answer the docs promise. The tests do not
 * re-implement the rules: a valid name is assembled from pieces the docs say
 * are fine, an invalid one by breaking exactly one documented rule.
 */
import * as fc from "fast-check";
import { MAX_NAME, WHITESPACE, whitespaceOnly } from "./arbitraries";

/**
 * Visible pieces the docs allow anywhere inside a name, including the
 * documented exceptions: ZWNJ between Persian letters, ZWJ after a Devanagari
 * virama, ZWJ inside emoji sequences, U+FE0F after an emoji. None starts with
 * a letter that could read as the "p" of "private-".
 */
export const VISIBLE = [
  "lobby",
  "Room 42",
  "技术交流",
  "Café",
  "cafe\u0301", // decomposed: NFC makes it "café"
  "Ångström",
  "\u212b", // ANGSTROM SIGN: NFC makes it "Å"
  "Ελληνικά",
  "русский",
  "עברית",
  "العربية",
  "می\u200cخواهم", // Persian, ZWNJ between two Arabic-script letters
  "क्\u200dष", // Devanagari, ZWJ after a virama
  "👩\u200d💻", // ZWJ inside an emoji sequence
  "🏳\ufe0f\u200d🌈",
  "❤\ufe0f", // emoji presentation selector after an emoji
  "🙂",
  "_-.:;!?()[]{}#%&+=~@$,'\"",
  "1",
  "a.b",
  "x y",
];

/** Letters and digits with no special meaning, for spots where only plain text may stand. */
// Letters only: digits, '#' and '*' have Unicode's Emoji property (keycap bases),
// and a variation selector after them is one of the documented exceptions.
const PLAIN = fc.constantFrom("a", "b", "Z", "技", "é", "ж");

/** One or more visible pieces, each followed by nothing or a single inner space. */
export const visiblePieces = (maxPieces: number) =>
  fc
    .array(fc.tuple(fc.constantFrom(...VISIBLE), fc.constantFrom("", " ")), {
      minLength: 1,
      maxLength: maxPieces,
    })
    .map((parts) => parts.map(([p, sep], i) => (i === parts.length - 1 ? p : p + sep)));

/** Visible pieces joined: text the docs allow anywhere inside a name. */
export const visibleText = (maxPieces: number) =>
  visiblePieces(maxPieces).map((pieces) => pieces.join(""));

export const codePoints = (s: string) => [...s].length;

/** docs: control characters, U+0000–U+001F and U+007F–U+009F, and U+2028/U+2029. */
export const CONTROLS = [
  ...Array.from({ length: 0x20 }, (_, i) => String.fromCodePoint(i)),
  ...Array.from({ length: 0x21 }, (_, i) => String.fromCodePoint(0x7f + i)),
  "\u2028",
  "\u2029",
];

/**
 * docs/identity.md: invisible formatting characters, refused wherever they
 * stand except in the documented exceptions (never met between two plain
 * Latin/Han letters, where the tests put them).
 */
export const HIDDEN = [
  "\u00ad", // soft hyphen
  "\u034f", // combining grapheme joiner
  "\u115f",
  "\u1160",
  "\u3164",
  "\uffa0", // Hangul fillers
  "\u200b", // zero-width space
  "\u200c",
  "\u200d", // ZWNJ, ZWJ (not between letters of a joining script here)
  "\u200e",
  "\u200f", // bidi marks
  "\u202a",
  "\u202b",
  "\u202c",
  "\u202d",
  "\u202e", // embeddings, overrides
  "\u2060", // word joiner
  "\u2061",
  "\u2062",
  "\u2063",
  "\u2064", // invisible operators
  "\u2066",
  "\u2067",
  "\u2068",
  "\u2069", // isolates
  "\ufe00",
  "\ufe0e",
  "\ufe0f", // variation selectors (not after an emoji here)
  "\ufeff", // BOM inside a name
  "\u{e0001}",
  "\u{e0041}",
  "\u{e007f}", // tag characters
];

/**
 * Visible pieces with `bad` put between two plain letters at a piece boundary,
 * so no documented exception (an emoji sequence, a joining script) applies.
 */
export const withInside = (maxPieces: number, bad: fc.Arbitrary<string>) =>
  fc
    .tuple(visiblePieces(maxPieces), PLAIN, bad, PLAIN, fc.nat())
    .map(([pieces, before, ch, after, at]) => {
      const i = at % (pieces.length + 1);
      return {
        text: [...pieces.slice(0, i), before + ch + after, ...pieces.slice(i)].join(""),
        ch,
      };
    });

export const hexOf = (ch: string) =>
  `U+${ch.codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0")}`;

export const edgeWhitespace = fc.constantFrom(...WHITESPACE);

/**
 * docs/identity.md: disguises of "private-" a public room may not use —
 * letter case, fullwidth forms, accents, look-alike letters and dashes,
 * small capitals (ᴘʀɪᴠᴀᴛᴇ) and letters with no compatibility mapping that
 * Unicode's confusables data draws as Latin (Lisu ꓑ, Coptic ⲣ, Cherokee ꮩ).
 * Each result differs from "private-" and must be refused.
 */
const LOOKALIKE: Record<string, string[]> = {
  p: ["р", "ρ", "ᴘ", "ꓑ", "ⲣ"],
  r: ["г", "ʀ", "ꭇ"],
  i: ["і", "ӏ", "ι", "ı", "l", "1", "|", "ɪ", "ɩ", "ꙇ"],
  v: ["ѵ", "ν", "ᴠ", "ꮩ"],
  a: ["а", "α", "ᴀ", "⍺"],
  t: ["т", "τ", "ᴛ", "ꓔ"],
  e: ["е", "ε", "ᴇ", "ҽ"],
  "-": ["‐", "−", "–", "—", "˗", "ー", "─", "━", "⎯"],
};
const disguise = (ch: string) =>
  fc.constantFrom(
    ch,
    ch.toUpperCase(),
    String.fromCodePoint(ch.codePointAt(0)! + 0xfee0), // fullwidth form
    ...(ch === "-" ? [] : [`${ch}\u0301`.normalize("NFC"), `${ch}\u0308`.normalize("NFC")]),
    ...(LOOKALIKE[ch] ?? []),
  );
export const privateLookalike = fc
  .tuple(fc.tuple(...[..."private-"].map(disguise)), fc.constantFrom("board", "team", "技术", ""))
  .map(([letters, rest]) => letters.join("") + rest)
  .filter((s) => !s.startsWith("private-"));

/** docs: an allowed display name, maybe padded with whitespace, and what the room must show. */
export const validName = fc
  .tuple(whitespaceOnly, visibleText(4), whitespaceOnly)
  .filter(([, core]) => codePoints(core.normalize("NFC")) <= MAX_NAME)
  .map(([lead, core, trail]) => ({ name: lead + core + trail, shown: core.normalize("NFC") }));

/** Names that break exactly one documented rule, with the part of the error that says which. */
export const invalidName: fc.Arbitrary<{ name: string; because: RegExp }> = fc.oneof(
  fc
    .tuple(fc.constantFrom("a", "技", "🙂", "é"), fc.integer({ min: MAX_NAME + 1, max: 100 }))
    .map(([c, n]) => ({ name: c.repeat(n), because: /longer than 32/ })),
  withInside(2, fc.constantFrom(...CONTROLS)).map(({ text }) => ({
    name: text,
    because: /control character/,
  })),
  withInside(2, fc.constantFrom(...HIDDEN)).map(({ text, ch }) => ({
    name: text,
    because: new RegExp(`invisible formatting character \\(${hexOf(ch).replace("+", "\\+")}\\)`),
  })),
);
