import { describe, expect, it } from "vitest";
import { parseRoomName, parseRoomSegment } from "../src/room-name";
import { parseDisplayName } from "../src/display-name";

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
});
