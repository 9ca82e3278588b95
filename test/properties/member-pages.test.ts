/* oxlint-disable vitest/no-conditional-expect -- a property's expectation depends on the generated case */
/**
 * `cursor` and `limit` of the members API (docs/http-api.md#listing-members).
 * The documented rules: `cursor` is 1 to 15 ASCII digits, empty or absent
 * meaning the first page; `limit` is a whole number from 1 to 1,000, empty or
 * absent meaning 100. Anything else is a 400 naming the parameter, never a 5xx;
 * an accepted page has at most `limit` members.
 */
import * as fc from "fast-check";
import { describe, expect, it } from "vitest";
import { closeAll, connect, request, uniqueRoom } from "../helpers";
import { anyText, opts } from "./arbitraries";
import { answer, bearer } from "./http";

const ASCII_DIGITS = "0123456789";
const digitsOnly = (s: string) => [...s].every((c) => ASCII_DIGITS.includes(c));

function cursorAccepted(value: string): boolean {
  return value === "" || (value.length <= 15 && digitsOnly(value));
}

function limitAccepted(value: string): boolean {
  if (value === "") return true;
  if (value.length > 16 || !digitsOnly(value)) return false;
  return Number(value) >= 1 && Number(value) <= 1000;
}

const numberish = fc.oneof(
  fc.string({ unit: fc.constantFrom(...ASCII_DIGITS), maxLength: 20 }),
  fc.integer({ min: -5, max: 1200 }).map(String),
  fc.constantFrom("+1", " 1", "1 ", "1.0", "1e3", "0x10", "NaN", "１", "١", "0", "00", "1000"),
  anyText.filter((s) => s.isWellFormed()),
);

describe("members API parameters", () => {
  it("takes a cursor and a limit exactly when the documented rules allow, else a 400 naming a bad one", async () => {
    const room = uniqueRoom("member-pages");
    const members = [await connect(room, "name=a"), await connect(room, "name=b")];
    try {
      await fc.assert(
        fc.asyncProperty(numberish, numberish, async (cursor, limit) => {
          const query = `cursor=${encodeURIComponent(cursor)}&limit=${encodeURIComponent(limit)}`;
          const res = await request(`/api/rooms/${room}/members?${query}`, { headers: bearer() });
          const a = await answer(res, [200, 400]);
          const ok = cursorAccepted(cursor) && limitAccepted(limit);
          expect({ cursor, limit, status: a.status }).toEqual({
            cursor,
            limit,
            status: ok ? 200 : 400,
          });
          if (ok) {
            const listed = a.json.members as unknown[];
            expect(listed.length).toBeLessThanOrEqual(limit === "" ? 100 : Number(limit));
            expect(a.json.count).toBe(2);
          } else {
            // The parameter named is one that breaks its rule.
            const named = /^invalid (cursor|limit): /.exec(String(a.json.error))?.[1];
            const bad = [
              ...(cursorAccepted(cursor) ? [] : ["cursor"]),
              ...(limitAccepted(limit) ? [] : ["limit"]),
            ];
            expect(bad).toContain(named);
          }
        }),
        opts(80, false),
      );
    } finally {
      closeAll(members);
    }
  });
});
