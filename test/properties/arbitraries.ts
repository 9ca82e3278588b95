/**
 * @module arbitraries
 * Generators shared by the property tests: text that sits on the edge of the
 * documented rules (whitespace, controls, surrogates, combining marks, astral
 * characters, URL metacharacters), valid messages and non-string JSON.
 */
import * as fc from "fast-check";

/** Documented limits (docs/deploy.md#configuration), unchanged by the test configuration. */
export const MAX_ROOM = 64;
export const MAX_NAME = 32;
export const MAX_MESSAGE = 2000;
export const MAX_BODY = 256 * 1024;

/** Whitespace as "trimmed" means in the docs: what String.prototype.trim removes. */
export const WHITESPACE = [
  " ",
  "\t",
  "\n",
  "\v",
  "\f",
  "\r",
  "\u00a0",
  "\u1680",
  "\u2000",
  "\u200a",
  "\u2028",
  "\u2029",
  "\u202f",
  "\u205f",
  "\u3000",
  "\ufeff",
];

/** Fragments that sit on the edge of some rule. */
export const TRICKY = [
  "",
  "/",
  "\\",
  ".",
  "..",
  "*",
  "%",
  "%2F",
  "%25",
  "?",
  "#",
  "&",
  "=",
  "+",
  "\u0000",
  "\u0007",
  "\u001f",
  "\u007f",
  "\u0085",
  "\u009f",
  "\u00ad",
  "\u200b",
  "\u200e",
  "\u202e",
  "\u2066",
  "e\u0301",
  "\u212b",
  "\u0958",
  "\uffff",
  "🙂",
  "👩‍👩‍👧",
  "技术交流",
  "a",
  "Z",
  "9",
  "-",
  "_",
  "\uff0a",
  "private-",
  "Private-",
  "\u0440rivate-",
  "\u200d",
  "\ufe0f",
  "\u3164",
  ...WHITESPACE,
];

export const tricky = fc.constantFrom(...TRICKY);
export const loneSurrogate = fc.constantFrom("\ud800", "\udbff", "\udc00", "\udfff");
export const anyCodePoints = (maxLength: number) => fc.string({ unit: "binary", maxLength });

/** Well-formed Unicode: any code point, astral included, mixed with edge fragments. */
export const unicodeText = (maxPieces: number) =>
  fc
    .array(fc.oneof(tricky, anyCodePoints(6), fc.string({ maxLength: 6 })), {
      maxLength: maxPieces,
    })
    .map((pieces) => pieces.join(""));

/** Also ill-formed UTF-16 (lone surrogates), which no URL can carry but JSON can. */
export const anyText = fc.oneof(
  { weight: 4, arbitrary: unicodeText(12) },
  { weight: 1, arbitrary: fc.array(fc.oneof(loneSurrogate, tricky)).map((a) => a.join("")) },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.oneof(tricky, anyCodePoints(3)), fc.integer({ min: 1, max: 50_000 }))
      .map(([s, n]) => s.repeat(n)),
  },
);

export const whitespaceOnly = fc
  .array(fc.constantFrom(...WHITESPACE), { maxLength: 10 })
  .map((a) => a.join(""));

/**
 * A message the room must accept (docs/protocol.md): not blank, at most
 * MAX_MESSAGE UTF-16 code units, and not the keep-alive text `ping`.
 */
export const validMessage = fc
  .oneof(
    { weight: 5, arbitrary: unicodeText(20) },
    { weight: 1, arbitrary: anyCodePoints(MAX_MESSAGE) },
    {
      weight: 1,
      arbitrary: anyCodePoints(4).map((s) => (s === "" ? "x" : s).repeat(MAX_MESSAGE)),
    },
  )
  .map((s) => s.slice(0, MAX_MESSAGE))
  // Slicing may cut a surrogate pair in half; drop the half.
  .map((s) => s.replace(/[\ud800-\udbff]$/, ""))
  .filter((s) => s.trim() !== "" && s !== "ping");

/** A JSON value that is not a string, including deep nesting. */
export const notAString = fc.oneof(
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.jsonValue({ maxDepth: 2 }), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 4 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 }),
);

/** Keys a client may add beside `message`; the docs say other keys are ignored. */
export const extraKeys = fc.dictionary(
  // "messages" would make an inject body a batch; "clientId" has its own rule.
  fc
    .string({ maxLength: 8 })
    .filter((k) => !["message", "messages", "user", "clientId", "__proto__"].includes(k)),
  fc.jsonValue({ maxDepth: 2 }),
  { maxKeys: 3 },
);

/** Percent-encodes every UTF-8 byte, the most literal spelling of a path segment. */
export function encodeEveryByte(s: string, lower: boolean): string {
  const hex = Array.from(
    new TextEncoder().encode(s),
    (b) => `%${b.toString(16).padStart(2, "0")}`,
  ).join("");
  return lower ? hex : hex.toUpperCase();
}

/** Pure properties shrink a failure to a minimal case; the ones over the network stop at the first. */
export const opts = (numRuns: number, shrink = true) => ({ numRuns, endOnFailure: !shrink });
