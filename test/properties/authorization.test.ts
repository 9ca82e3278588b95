/**
 * The Authorization header of the /api routes (docs/http-api.md): the scheme
 * `Bearer` in any letter case (RFC 7235 schemes are case-insensitive), a space
 * (further spaces or tabs are ignored), then the token exactly; spaces and tabs
 * around the whole value are not part of it (HTTP strips them). Everything
 * else, however long or strange, is a JSON 401, never a crash.
 */
import * as fc from "fast-check";
import { describe, expect, it } from "vitest";
import { randomAddress, request, TEST_TOKEN } from "../helpers";
import { opts } from "./arbitraries";
import { answer } from "./http";

const SP_HTAB = [" ", "\t"];

/** The documented rule, step by step. */
function tokenAccepted(value: string): boolean {
  let v = value;
  while (v !== "" && SP_HTAB.includes(v[0]!)) v = v.slice(1);
  while (v !== "" && SP_HTAB.includes(v.at(-1)!)) v = v.slice(0, -1);
  if (v.slice(0, 6).toLowerCase() !== "bearer" || v[6] !== " ") return false;
  let token = v.slice(7);
  while (token !== "" && SP_HTAB.includes(token[0]!)) token = token.slice(1);
  return token === TEST_TOKEN;
}

describe("the Authorization header", () => {
  // Visible ASCII, space and tab (obs-text bytes are legal too, but workerd
  // warns about each one, so they get a test of their own below).
  const headerChar = fc.oneof(
    fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)),
    fc.constant("\t"),
  );
  const mutate = fc.oneof(
    fc.string({ unit: headerChar, maxLength: 80 }),
    fc
      .tuple(
        fc.constantFrom("", " ", "\t"),
        fc.constantFrom("Bearer", "bearer", "BEARER", "bEaReR", "Basic", "Token", "Bearer:", ""),
        fc.constantFrom(" ", "  ", "\t", " \t", ""),
        fc.constantFrom(
          TEST_TOKEN,
          TEST_TOKEN.slice(1),
          TEST_TOKEN.slice(0, -1),
          `${TEST_TOKEN}x`,
          TEST_TOKEN.toUpperCase(),
          `"${TEST_TOKEN}"`,
          `${TEST_TOKEN}=`,
          `${TEST_TOKEN} ${TEST_TOKEN}`,
          "",
        ),
        fc.constantFrom("", " ", "\t"),
      )
      .map((parts) => parts.join("")),
    fc.string({ unit: headerChar, maxLength: 8 }).map((s) => `Bearer ${TEST_TOKEN}${s}`),
  );

  it("lets exactly the right token in and answers everything else with a JSON 401", async () => {
    await fc.assert(
      fc.asyncProperty(mutate, async (value) => {
        const res = await request("/api/rooms/lobby", {
          headers: { Authorization: value, "CF-Connecting-IP": randomAddress() },
        });
        const a = await answer(res, [200, 401]);
        expect({ value, status: a.status }).toEqual({
          value,
          status: tokenAccepted(value) ? 200 : 401,
        });
        const challenge = res.headers.get("WWW-Authenticate") ?? "";
        expect(a.status === 200 || challenge.startsWith("Bearer")).toBe(true);
      }),
      opts(150, false),
    );
  });

  it("treats a huge or non-ASCII header as a wrong token, not a crash", async () => {
    for (const value of [
      `Bearer ${TEST_TOKEN}\u00a0`,
      `Bearer \u00ff${TEST_TOKEN}`,
      "\u00e9\u00e8",
      `Bearer ${"a".repeat(60_000)}`,
      "Bearer " + "=".repeat(10_000),
      "x".repeat(60_000),
    ]) {
      const res = await request("/api/rooms/lobby", {
        headers: { Authorization: value, "CF-Connecting-IP": randomAddress() },
      });
      expect((await answer(res, [401])).status).toBe(401);
    }
  });
});
