import { describe, expect, it } from "vitest";
import { parseRoomName, parseRoomSegment } from "../src/identity/room-name";
import { parseDisplayName } from "../src/identity/display-name";

describe("room names", () => {
  it.each([
    "lobby",
    "技术交流",
    "a",
    "x".repeat(64),
    "🙂".repeat(64),
    "my room",
    "100%",
    "C++ & Rust",
  ])("accepts %s", (name) => {
    expect(parseRoomName(name)).toEqual({ ok: true, value: name });
  });

  it("normalises to NFC so both spellings of é are one room", () => {
    expect(parseRoomName("cafe\u0301")).toEqual({ ok: true, value: "caf\u00e9" });
  });

  it.each([
    ["", /empty/],
    ["x".repeat(65), /longer than 64/],
    ["a\u0000b", /control/],
    ["a\u001bb", /control/],
    ["a\u2028b", /control/],
    ["a/b", /'\/'/],
    [" lobby", /whitespace/],
  ])("refuses %j", (name, error) => {
    expect(parseRoomName(name)).toEqual({ ok: false, error: expect.stringMatching(error) });
  });

  it.each([
    ["*", /'\*' is not a room name/],
    ["\uff0a", /'\*' is not a room name/], // fullwidth asterisk reads as "*"
    ["private\u200b-board", /invisible formatting character \(U\+200B\)/],
    ["lobby\u202e", /U\+202E/], // right-to-left override
    ["\u2066lobby", /U\+2066/], // left-to-right isolate
    ["lob\u00adby", /U\+00AD/], // soft hyphen
    ["\u3164", /U\+3164/], // Hangul filler, drawn as nothing
    ["lobby\u{e0041}", /U\+E0041/], // tag letter: invisible text
    ["Private-board", /looks like a private room's/],
    ["PRIVATE-board", /looks like a private room's/],
    ["\uff50\uff52\uff49\uff56\uff41\uff54\uff45-board", /looks like a private room's/], // fullwidth
    ["\u0440rivate-board", /looks like a private room's/], // Cyrillic er
    ["priv\u0430te-board", /looks like a private room's/], // Cyrillic a
    ["pr\u0131vate-board", /looks like a private room's/], // dotless i
    ["prlvate-board", /looks like a private room's/], // l for i
    ["pr1vate-board", /looks like a private room's/], // one for i
    ["pri\u0301vate-board", /looks like a private room's/], // an accent
    ["private\u2010board", /looks like a private room's/], // Unicode hyphen
    ["private\u2212board", /looks like a private room's/], // minus sign
    ["private\u30fcboard", /looks like a private room's/], // katakana long mark
  ])("refuses %j", (name, error) => {
    expect(parseRoomName(name)).toEqual({ ok: false, error: expect.stringMatching(error) });
  });

  it.each([
    "private-board", // the real prefix: a private room
    "private board", // reads differently: a public room
    "privateboard",
    "my private-board",
    "a*b",
    "**",
    "نامه‌ها", // Persian needs ZWNJ between letters
    "क्‍ष", // Devanagari: ZWJ after a virama
    "👩‍💻 devs", // emoji ZWJ sequence
    "❤️ fans", // emoji presentation selector
    "#️⃣", // keycap
  ])("accepts %j", (name) => {
    expect(parseRoomName(name)).toEqual({ ok: true, value: name.normalize("NFC") });
  });

  it("decodes percent-encoded path segments and refuses broken ones", () => {
    expect(parseRoomSegment("%E6%8A%80%E6%9C%AF%E4%BA%A4%E6%B5%81")).toEqual({
      ok: true,
      value: "技术交流",
    });
    expect(parseRoomSegment("100%25")).toEqual({ ok: true, value: "100%" });
    expect(parseRoomSegment("%E6%8A")).toMatchObject({
      ok: false,
      error: expect.stringMatching(/percent/),
    });
  });
});

describe("display names", () => {
  it("trims and normalises", () => {
    expect(parseDisplayName("  Zoë  ")).toEqual({ ok: true, value: "Zoë" });
  });

  it.each([undefined, null, "", "   "])("asks for a generated name for %j", (input) => {
    expect(parseDisplayName(input)).toEqual({ ok: true, value: null });
  });

  it.each(["a\u0007", "x".repeat(33), "line\nbreak"])("refuses %j", (input) => {
    expect(parseDisplayName(input).ok).toBe(false);
  });

  it.each([
    ["Ali\u200bce", "U+200B"], // zero-width space
    ["Al\u200cice", "U+200C"], // ZWNJ between Latin letters hides nothing useful
    ["Al\u200dice", "U+200D"],
    ["\u202eecilA", "U+202E"], // shown reversed as "Alice"
    ["Alice\u2069", "U+2069"],
    ["\u200fAlice", "U+200F"],
    ["Ali\ufeffce", "U+FEFF"], // trimmed at the ends, refused inside
    ["Ali\u2060ce", "U+2060"], // word joiner
    ["A\u034flice", "U+034F"], // combining grapheme joiner
    ["Alice\ufe0f", "U+FE0F"], // emoji selector after a letter
    ["\u115f", "U+115F"], // Hangul choseong filler: a blank name
  ])("refuses %j: invisible %s", (input, code) => {
    expect(parseDisplayName(input)).toEqual({
      ok: false,
      error: `name contains an invisible formatting character (${code})`,
    });
  });

  it.each(["مهدی‌زاده", "👨‍👩‍👧", "👩🏽‍💻 Ana", "🏳️‍🌈", "☺︎ text style"])(
    "keeps joiners and selectors where writing needs them: %j",
    (input) => {
      expect(parseDisplayName(input)).toEqual({ ok: true, value: input });
    },
  );
});
