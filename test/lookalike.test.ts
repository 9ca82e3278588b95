import { describe, expect, it } from "vitest";
import { looksAlike } from "../src/lookalike";

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
