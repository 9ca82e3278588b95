/**
 * @module hidden-chars
 * Characters that change how a label (room or display name) looks, or hide
 * part of it, without being visible themselves: a zero-width space makes
 * `private\u200b-board` a public room that reads as a private one, and a
 * right-to-left override shows a name reversed. Labels refuse them.
 *
 * Refused: every format character (General_Category Cf: zero-width space and
 * joiners, bidi marks, embeddings, overrides and isolates, soft hyphen, BOM,
 * word joiner, invisible operators, tag characters) and every other
 * Default_Ignorable_Code_Point (Hangul fillers, variation selectors,
 * combining grapheme joiner, Mongolian free variation selectors...), which
 * renderers draw as nothing. Two exceptions keep real writing working:
 *
 * - U+200C/U+200D (ZWNJ/ZWJ) between two letters or marks of a script that
 *   needs them to spell words (Arabic, Persian, the Indic scripts...), and
 *   U+200D inside an emoji sequence (👩‍💻);
 * - U+FE0E/U+FE0F (text/emoji presentation) right after an emoji character.
 */

const HIDDEN = /[\p{Cf}\p{Default_Ignorable_Code_Point}]/u;

/** Scripts whose spelling uses ZWNJ/ZWJ between letters (Unicode ch. 23.2, RFC 5892 A.1/A.2). */
const JOINING =
  /[\p{Script=Arabic}\p{Script=Syriac}\p{Script=Nko}\p{Script=Mongolian}\p{Script=Adlam}\p{Script=Hanifi_Rohingya}\p{Script=Devanagari}\p{Script=Bengali}\p{Script=Gurmukhi}\p{Script=Gujarati}\p{Script=Oriya}\p{Script=Tamil}\p{Script=Telugu}\p{Script=Kannada}\p{Script=Malayalam}\p{Script=Sinhala}\p{Script=Myanmar}\p{Script=Khmer}]/u;
const LETTER_OR_MARK = /[\p{L}\p{M}]/u;
const PICTOGRAPH = /\p{Extended_Pictographic}/u;
/** What may end the emoji before a ZWJ: the emoji, a skin tone, or an emoji presentation selector. */
const EMOJI_PART = /[\p{Extended_Pictographic}\p{Emoji_Modifier}\uFE0F]/u;
const EMOJI = /\p{Emoji}/u;

function allowedInContext(chars: string[], i: number): boolean {
  const ch = chars[i]!;
  const before = chars[i - 1] ?? "";
  const after = chars[i + 1] ?? "";
  if (ch === "\u200C" || ch === "\u200D") {
    if (ch === "\u200D" && EMOJI_PART.test(before) && PICTOGRAPH.test(after)) return true;
    return (
      JOINING.test(before) &&
      JOINING.test(after) &&
      LETTER_OR_MARK.test(before) &&
      LETTER_OR_MARK.test(after)
    );
  }
  if (ch === "\uFE0E" || ch === "\uFE0F") return EMOJI.test(before);
  return false;
}

/**
 * The first hidden character of `text` that is not allowed where it stands,
 * as "U+200B", or null if there is none.
 */
export function findHiddenChar(text: string): string | null {
  if (!HIDDEN.test(text)) return null;
  const chars = [...text];
  for (let i = 0; i < chars.length; i++) {
    const ch = chars[i]!;
    if (HIDDEN.test(ch) && !allowedInContext(chars, i))
      return `U+${ch.codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0")}`;
  }
  return null;
}
