/* oxlint-disable vitest/no-conditional-expect -- a property's expectation depends on the generated case */
/**
 * Join tokens (docs/identity.md): an HS256 JWT signed with JOIN_SECRET whose
 * claims are `sub` (1 to 128 characters, no control characters), `name`
 * (optional display name; without one, `sub` trimmed and cut to
 * MAX_NAME_CHARS, or `member` if that leaves nothing), `room` (the room, or
 * `*` for every room), `exp` (required, at most 24 h ahead) and optional
 * `nbf`, judged with 60 s of leeway. A valid token joins under its own id and name, `verified`;
 * expired, malformed or badly signed tokens and bad claims get a JSON 401, a
 * token for another room a 403.
 *
 * Each case starts from valid claims and breaks at most one of them, so the
 * documented answer is known by construction. Times stay clear of the 60 s
 * boundary so a tick of the clock cannot change the answer.
 */
import * as fc from "fast-check";
import { describe, expect, it } from "vitest";
import { request, uniqueRoom, wsPath, Client } from "../helpers";
import { TEST_JOIN_SECRET } from "../test-env";
import { MAX_NAME, notAString, opts, whitespaceOnly } from "./arbitraries";

/** The documented longest life of a token, in seconds. */
const DAY = 24 * 3600;
import { answer, upgrade } from "./http";
import { invalidName, validName } from "./labels";

const b64url = (bytes: Uint8Array) =>
  btoa(String.fromCharCode(...bytes))
    .replaceAll("+", "-")
    .replaceAll("/", "_")
    .replace(/=+$/, "");
const b64json = (value: unknown) => b64url(new TextEncoder().encode(JSON.stringify(value)));

/** An HS256 JWT built by hand with WebCrypto, so any header and claims can be forged. */
async function jwt(header: object, claims: object, secret: string): Promise<string> {
  const input = `${b64json(header)}.${b64json(claims)}`;
  const key = await crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const mac = await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(input));
  return `${input}.${b64url(new Uint8Array(mac))}`;
}

const now = () => Math.floor(Date.now() / 1000);

/** docs: a user id of 1 to 128 characters, no control characters. */
const validSub = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.string({
      unit: fc.constantFrom("a", "Z", "9", "技", "é", "-", "_", "🙂", " ", "@", "."),
      minLength: 1,
      maxLength: 40,
    }),
  },
  { weight: 1, arbitrary: fc.constantFrom("🙂".repeat(128), "x".repeat(128), " ", "  alice  ") },
);
const invalidSub = fc.oneof(
  fc.constantFrom("", "a\u0000b", "x".repeat(129), "🙂".repeat(129), "line\nbreak"),
  notAString,
);

/** docs: the name a token without a usable `name` claim shows. */
function nameFromSub(sub: string): string {
  const cut = [...sub.trim()].slice(0, MAX_NAME).join("").trim();
  return cut === "" ? "member" : cut;
}

interface TokenCase {
  claims: Record<string, unknown>;
  status: 101 | 401 | 403;
  name?: string;
}

/** Valid claims for `room`, then at most one claim broken, labelled with the documented answer. */
const tokenCase = (room: string): fc.Arbitrary<TokenCase> =>
  fc
    .record({
      sub: validSub,
      name: fc.oneof(
        validName.map(({ name, shown }) => ({ name: name as string | undefined, shown })),
        whitespaceOnly.map((name) => ({ name: name as string | undefined, shown: null })),
        fc.constant({ name: undefined as string | undefined, shown: null }),
      ),
      scope: fc.constantFrom(room, "*", room.normalize("NFD")),
      exp: fc.oneof(
        fc.integer({ min: 60, max: 3600 }).map((d) => now() + d),
        // Up to the 24 h maximum, and past it by less than the leeway.
        fc.integer({ min: 23 * 3600, max: DAY + 45 }).map((d) => now() + d),
        // Expired less than 60 s ago: within the leeway.
        fc.integer({ min: 1, max: 45 }).map((d) => now() - d),
      ),
      nbf: fc.option(
        fc.integer({ min: -600, max: 45 }).map((d) => now() + d),
        { nil: undefined },
      ),
      broken: fc.oneof(
        fc.constant({ kind: "none" as const }),
        invalidSub.map((sub) => ({ kind: "sub" as const, sub })),
        invalidName.map(({ name }) => ({ kind: "name" as const, name })),
        fc
          .oneof(notAString, fc.constant(undefined))
          .map((scope) => ({ kind: "room" as const, scope })),
        fc
          .constantFrom(uniqueRoom("private-other"), "lobby")
          .map((scope) => ({ kind: "other-room" as const, scope })),
        fc
          .integer({ min: 75, max: 3600 })
          .map((d) => ({ kind: "expired" as const, exp: now() - d })),
        fc
          .oneof(
            fc.constant(undefined),
            fc.constant(String(now() + 600)),
            notAString.filter((v) => typeof v !== "number"),
          )
          .map((exp) => ({ kind: "bad-exp" as const, exp })),
        fc
          .integer({ min: 75, max: 3600 })
          .map((d) => ({ kind: "not-yet" as const, nbf: now() + d })),
        fc
          .integer({ min: DAY + 75, max: 100 * 365 * DAY })
          .map((d) => ({ kind: "too-long" as const, exp: now() + d })),
      ),
    })
    .map(({ sub, name, scope, exp, nbf, broken }): TokenCase => {
      const claims: Record<string, unknown> = { sub, name: name.name, room: scope, exp, nbf };
      const shown = name.shown ?? nameFromSub(sub);
      switch (broken.kind) {
        case "none":
          return { claims, status: 101, name: shown };
        case "sub":
          return { claims: { ...claims, sub: broken.sub }, status: 401 };
        case "name":
          return { claims: { ...claims, name: broken.name }, status: 401 };
        case "room":
          return { claims: { ...claims, room: broken.scope }, status: 401 };
        case "other-room":
          return { claims: { ...claims, room: broken.scope }, status: 403 };
        case "expired":
          return { claims: { ...claims, exp: broken.exp }, status: 401 };
        case "bad-exp":
          return { claims: { ...claims, exp: broken.exp }, status: 401 };
        case "not-yet":
          return { claims: { ...claims, nbf: broken.nbf }, status: 401 };
        case "too-long":
          return { claims: { ...claims, exp: broken.exp }, status: 401 };
      }
    });

describe("join tokens (?token=)", () => {
  it("admits exactly the well-formed, well-signed tokens for the room, under their own id and name", async () => {
    const room = `private-tokens-é-${crypto.randomUUID()}`;
    await fc.assert(
      fc.asyncProperty(tokenCase(room), async (c) => {
        const token = await jwt({ alg: "HS256", typ: "JWT" }, c.claims, TEST_JOIN_SECRET);
        const res = await request(wsPath(room, `rich=1&name=ignored&token=${token}`), {
          headers: upgrade,
        });
        if (c.status !== 101) {
          const a = await answer(res, [401, 403]);
          expect({ status: a.status, claims: c.claims }).toEqual({
            status: c.status,
            claims: c.claims,
          });
          return;
        }
        expect({ status: res.status, claims: c.claims }).toEqual({ status: 101, claims: c.claims });
        const client = new Client(res.webSocket!);
        try {
          await client.untilType("welcome");
          expect(client.ofType("welcome")[0]!.you).toEqual({
            id: c.claims.sub,
            name: c.name,
            verified: true,
          });
        } finally {
          client.close();
        }
      }),
      opts(80, false),
    );
  });

  it("refuses forged, tampered and garbage tokens with a JSON 401", async () => {
    const room = `private-forged-${crypto.randomUUID()}`;
    const good = { sub: "mallory", room, exp: now() + 600 };
    const forged = fc.oneof(
      // Signed with another secret, or unsigned, or with another algorithm named.
      fc
        .string({ minLength: 1, maxLength: 20 })
        .filter((s) => s !== TEST_JOIN_SECRET)
        .chain((secret) => fc.constant(jwt({ alg: "HS256", typ: "JWT" }, good, secret))),
      fc.constant(Promise.resolve(`${b64json({ alg: "none", typ: "JWT" })}.${b64json(good)}.`)),
      fc
        .constantFrom("HS512", "RS256", "none", "hs256", "")
        .map((alg) => jwt({ alg, typ: "JWT" }, good, TEST_JOIN_SECRET)),
      // A valid token with its payload swapped for a more generous one.
      fc.constant(
        jwt({ alg: "HS256", typ: "JWT" }, good, TEST_JOIN_SECRET).then((t) => {
          const [h, , sig] = t.split(".");
          return `${h}.${b64json({ ...good, sub: "admin", room: "*" })}.${sig}`;
        }),
      ),
      // Garbage of every shape.
      fc
        .array(fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom(".", "..", "=", "eyJ")), {
          maxLength: 6,
        })
        .map((parts) => Promise.resolve(parts.join("")))
        .filter(() => true),
    );
    await fc.assert(
      fc.asyncProperty(forged, async (pending) => {
        const token = await pending;
        const res = await request(wsPath(room, `token=${encodeURIComponent(token)}`), {
          headers: upgrade,
        });
        // An empty ?token= is "no token": a private room answers 401 for that too.
        const a = await answer(res, [401]);
        expect(a.json.error).toMatch(/token|private/);
      }),
      opts(60, false),
    );
  });
});
