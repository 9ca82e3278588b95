/* oxlint-disable vitest/no-conditional-expect -- a property's expectation depends on the generated case */
/**
 * Property-based tests for the parsers not yet split into test/properties/:
 * room names, display names, the inject API body, join tokens and Origin.
 * Each parser is driven directly and through the real routes and sockets.
 * The properties: never a crash or a 5xx; hostile input gets a documented
 * answer; valid input is accepted and comes back exactly as sent.
 */
import * as fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseDisplayName } from "../src/display-name";
import { parseRoomName, parseRoomSegment } from "../src/room-name";
import { connect, request, uniqueRoom, wsPath, Client, type Frame } from "./helpers";
import { ORIGIN } from "./helpers";
import { TEST_JOIN_SECRET } from "./test-env";
import {
  anyText,
  encodeEveryByte,
  extraKeys,
  MAX_BODY,
  MAX_MESSAGE,
  MAX_NAME,
  MAX_ROOM,
  notAString,
  opts,
  tricky,
  unicodeText,
  validMessage,
  whitespaceOnly,
} from "./properties/arbitraries";
import { answer, bearer, postMessage, upgrade } from "./properties/http";

// ---------------------------------------------------------------- the rules, from the README

const CONTROL = /[\p{Cc}\u2028\u2029]/u;
const codePoints = (s: string) => [...s].length;

/** A letter or mark of a script that spells with ZWNJ/ZWJ. */
const joining = (c: string) =>
  /\p{sc=Arab}|\p{sc=Syrc}|\p{sc=Nkoo}|\p{sc=Mong}|\p{sc=Adlm}|\p{sc=Rohg}|\p{sc=Deva}|\p{sc=Beng}|\p{sc=Guru}|\p{sc=Gujr}|\p{sc=Orya}|\p{sc=Taml}|\p{sc=Telu}|\p{sc=Knda}|\p{sc=Mlym}|\p{sc=Sinh}|\p{sc=Mymr}|\p{sc=Khmr}/u.test(
    c,
  ) && /[\p{L}\p{M}]/u.test(c);

/**
 * docs/identity.md "Names that cannot hide or imitate": no Cf or
 * Default_Ignorable_Code_Point character, except ZWNJ/ZWJ between two
 * letters or marks of a joining script, ZWJ between emoji, and VS15/VS16
 * after an emoji.
 */
function hasHidden(text: string): boolean {
  const cps = [...text];
  return cps.some((ch, i) => {
    if (!/[\p{Cf}\p{Default_Ignorable_Code_Point}]/u.test(ch)) return false;
    const [before, after] = [cps[i - 1] ?? "", cps[i + 1] ?? ""];
    if ((ch === "\u200c" || ch === "\u200d") && joining(before) && joining(after)) return false;
    if (
      ch === "\u200d" &&
      /\p{ExtPict}|\p{EMod}|\ufe0f/u.test(before) &&
      /\p{ExtPict}/u.test(after)
    )
      return false;
    if ((ch === "\ufe0e" || ch === "\ufe0f") && /\p{Emoji}/u.test(before)) return false;
    return true;
  });
}

/** docs/identity.md: the look-alikes of the letters of "private-" (a subset of src/lookalike.ts's table). */
const PRIVATE_LOOKALIKES: Record<string, string> = {
  р: "p",
  ρ: "p",
  г: "r",
  і: "i",
  ӏ: "i",
  ι: "i",
  l: "i",
  "1": "i",
  "|": "i",
  ѵ: "v",
  ν: "v",
  ᴠ: "v",
  а: "a",
  α: "a",
  т: "t",
  τ: "t",
  е: "e",
  ε: "e",
  "˗": "-",
  ー: "-",
  "─": "-",
  "━": "-",
  "⎯": "-",
};

/** docs/identity.md: a public room may not read as "private-…" once folded. */
function looksPrivate(room: string): boolean {
  if (room.startsWith("private-")) return false;
  const folded = [...room.normalize("NFKD").replace(/\p{M}/gu, "").toUpperCase().toLowerCase()]
    .map((c) => (/\p{Dash}/u.test(c) ? "-" : (PRIVATE_LOOKALIKES[c] ?? c)))
    .join("");
  return folded.startsWith("private-");
}

/** README: 1 to 64 characters after percent-decoding, NFC, no controls, no '/', no edge whitespace. */
function roomRule(decoded: string): string | null {
  const room = decoded.normalize("NFC");
  const n = codePoints(room);
  const ok = n >= 1 && n <= MAX_ROOM && !CONTROL.test(room) && !room.includes("/");
  if (!ok || room.trim() !== room || room === "." || room === "..") return null;
  if (hasHidden(room) || room.normalize("NFKC") === "*" || looksPrivate(room)) return null;
  return room;
}

/** README: trimmed, NFC, at most 32 characters, no controls or hidden characters; blank means "make one up". */
function nameRule(input: string): { ok: true; name: string | null } | { ok: false } {
  const name = input.toWellFormed().normalize("NFC").trim();
  if (name === "") return { ok: true, name: null };
  return CONTROL.test(name) || hasHidden(name) || codePoints(name) > MAX_NAME
    ? { ok: false }
    : { ok: true, name };
}

// ---------------------------------------------------------------- room names

describe("room names", () => {
  it("parseRoomName follows the README's rule for any text and returns the NFC form", () => {
    fc.assert(
      fc.property(anyText, (s) => {
        const parsed = parseRoomName(s);
        const expected = roomRule(s);
        if (expected === null) {
          expect(parsed).toEqual({ ok: false, error: expect.stringMatching(/\S/) });
        } else {
          expect(parsed).toEqual({ ok: true, value: expected });
          expect(parseRoomName(expected)).toEqual(parsed);
        }
      }),
      opts(500),
    );
  });

  it("parseRoomSegment is parseRoomName after percent-decoding, however the segment is spelled", () => {
    fc.assert(
      fc.property(unicodeText(12), fc.boolean(), (s, lower) => {
        const expected = parseRoomName(s);
        expect(parseRoomSegment(encodeURIComponent(s))).toEqual(expected);
        expect(parseRoomSegment(encodeEveryByte(s, lower))).toEqual(expected);
      }),
      opts(300),
    );
  });

  it("parseRoomSegment refuses broken percent-encoding instead of throwing", () => {
    const raw = fc
      .array(
        fc.oneof(
          tricky,
          fc.constantFrom("%", "%G0", "%E6%8A", "%ED%A0%80", "%C0%AF", "%FF", "%2", "%%"),
          fc.string({ maxLength: 4 }),
        ),
        { maxLength: 8 },
      )
      .map((a) => a.join(""));
    fc.assert(
      fc.property(raw, (segment) => {
        let decoded: string | null;
        try {
          decoded = decodeURIComponent(segment);
        } catch {
          decoded = null;
        }
        const parsed = parseRoomSegment(segment);
        if (decoded === null)
          expect(parsed).toEqual({ ok: false, error: expect.stringMatching(/percent/) });
        else expect(parsed).toEqual(parseRoomName(decoded));
      }),
      opts(300),
    );
  });

  it("every route accepts exactly the valid rooms and answers the rest with 400", async () => {
    // "", "." and ".." can't be sent as a path segment at all: see the
    // test below.
    const room = fc
      .oneof(unicodeText(8), fc.string({ unit: "grapheme", minLength: 1, maxLength: 70 }))
      .filter((s) => !["", ".", ".."].includes(s) && !s.startsWith("private-"));
    await fc.assert(
      fc.asyncProperty(room, async (s) => {
        const expected = roomRule(s);
        const segment = encodeURIComponent(s);
        const ws = await request(`/ws/chat/${segment}/?rich=1`, { headers: upgrade });
        if (expected !== null) {
          expect(ws.status).toBe(101);
          const client = new Client(ws.webSocket!);
          await client.untilType("welcome");
          expect(client.ofType("welcome")[0]!.room).toBe(expected);
          client.close();
        } else {
          const a = await answer(ws, [400]);
          expect(a.json.error).toMatch(/^invalid room/);
        }
        const stats = await answer(
          await request(`/api/rooms/${segment}`, { headers: bearer() }),
          [200, 400],
        );
        expect(stats.status).toBe(expected === null ? 400 : 200);
        if (expected !== null) expect(stats.json.room).toBe(expected);
        const history = await answer(
          await request(`/api/rooms/${segment}/messages`, { headers: bearer() }),
          [200, 400],
        );
        expect(history.status).toBe(expected === null ? 400 : 200);
        const posted = await answer(await postMessage(s, '{"message":"hi"}'), [201, 400]);
        expect(posted.status).toBe(expected === null ? 400 : 201);
      }),
      opts(60, false),
    );
  });

  it("refuses huge room names with 400 on every route, quickly", async () => {
    for (const s of ["x".repeat(65), "🙂".repeat(65), "y".repeat(100_000), "技".repeat(300_000)]) {
      const segment = encodeURIComponent(s);
      for (const [path, init] of [
        [`/ws/chat/${segment}/`, { headers: upgrade }],
        [`/api/rooms/${segment}`, { headers: bearer() }],
      ] as const) {
        const a = await answer(await request(path, init), [400]);
        expect(a.json.error).toMatch(/^invalid room: .*longer than 64/);
      }
    }
  });

  // The URL parser removes "." and ".." as dot-segments and an empty segment
  // matches no route, so these names never reach the room check; the parser
  // refuses them and the Worker answers what is left of the URL with 400.
  it("answers the names no URL can carry ('', '.', '..') the way the parser does", async () => {
    for (const s of ["", ".", ".."]) {
      const parsed = parseRoomName(s);
      const res = await request(wsPath(s), { headers: upgrade });
      expect({ s, status: res.status }).toEqual({ s, status: parsed.ok ? 101 : 400 });
    }
  });

  // The API's collapsed URLs too. (/api/rooms/./messages collapses to the
  // stats of a room called "messages": nothing the server can tell apart.)
  it("answers the API's collapsed room URLs with 400 too", async () => {
    for (const path of ["/api/rooms/", "/api/rooms/.", "/api/rooms/..", "/api/rooms//messages"]) {
      const res = await request(path, { headers: bearer() });
      expect({ path, status: res.status }).toEqual({ path, status: 400 });
    }
  });
});

// ---------------------------------------------------------------- display names

describe("display names", () => {
  it("parseDisplayName follows the README's rule for any text", () => {
    fc.assert(
      fc.property(anyText, (s) => {
        const expected = nameRule(s);
        const parsed = parseDisplayName(s);
        if (expected.ok) expect(parsed).toEqual({ ok: true, value: expected.name });
        else expect(parsed).toEqual({ ok: false, error: expect.stringMatching(/\S/) });
      }),
      opts(500),
    );
  });

  it("?name= is refused with 400 or shown to the room exactly as the rule says", async () => {
    const name = fc.oneof(
      unicodeText(6),
      fc.string({ unit: "grapheme", maxLength: 40 }),
      fc.string({ unit: "binary", minLength: 30, maxLength: 36 }),
    );
    await fc.assert(
      fc.asyncProperty(name, async (s) => {
        const expected = nameRule(s);
        const res = await request(
          wsPath(uniqueRoom("names"), `rich=1&name=${encodeURIComponent(s)}`),
          {
            headers: upgrade,
          },
        );
        if (!expected.ok) {
          const a = await answer(res, [400]);
          expect(a.json.error).toMatch(/^invalid name/);
          return;
        }
        expect(res.status).toBe(101);
        const client = new Client(res.webSocket!);
        try {
          await client.untilType("welcome");
          const you = client.ofType("welcome")[0]!.you as Frame;
          if (expected.name === null) expect(you.name).toMatch(/^guest-\d{4}$/);
          else expect(you.name).toBe(expected.name);
          client.send({ message: "me" });
          await client.untilChats(1);
          expect(client.chats().at(-1)!.user).toBe(you.name);
        } finally {
          client.close();
        }
      }),
      opts(40, false),
    );
  });

  it("any raw query string (broken escapes, '+', repeated keys) gets 101 or a JSON 400, never a 5xx", async () => {
    const room = uniqueRoom("query");
    const piece = fc.oneof(
      fc.constantFrom(
        "name=",
        "since=",
        "rich=",
        "limit=",
        "&",
        "=",
        "+",
        "%",
        "%2",
        "%ZZ",
        "%E6%8A",
        "%ED%A0%80",
        "%00",
        "%0A",
        "%20",
        "%2B",
        "%26",
        "1",
        "99999999999999999",
        "-1",
        "x",
      ),
      fc.string({ maxLength: 4 }).map(encodeURIComponent),
    );
    const query = fc.array(piece, { maxLength: 10 }).map((a) => a.join(""));
    await fc.assert(
      fc.asyncProperty(query, async (q) => {
        const res = await request(`${wsPath(room)}?${q}`, { headers: upgrade });
        const a = await answer(res, [101, 400]);
        expect([101, 400]).toContain(a.status);
        if (a.status === 400) expect(a.json.error).toMatch(/^invalid (name|since)/);
      }),
      opts(60, false),
    );
  });
});

// ---------------------------------------------------------------- inject API body

describe("the inject API body", () => {
  const anyJson = fc.jsonValue({ maxDepth: 3 });
  const messageField = fc.oneof(
    { weight: 3, arbitrary: validMessage },
    { weight: 1, arbitrary: whitespaceOnly },
    {
      weight: 1,
      arbitrary: fc.string({ minLength: MAX_MESSAGE + 1, maxLength: MAX_MESSAGE + 50 }),
    },
    { weight: 2, arbitrary: notAString },
  );
  const userField = fc.oneof(
    unicodeText(5),
    fc.string({ unit: "grapheme", maxLength: 40 }),
    notAString,
    fc.constant(undefined),
  );

  it("answers 201 exactly for a valid message and user, 400 otherwise, and delivers what it accepted verbatim", async () => {
    const room = uniqueRoom("inject");
    const listener = await connect(room);
    try {
      await fc.assert(
        fc.asyncProperty(
          fc.option(messageField, { nil: undefined }),
          userField,
          extraKeys,
          async (message, user, extra) => {
            const body = { ...extra, message, user };
            const text = JSON.stringify(body);
            const validUser = user === undefined || (typeof user === "string" && nameRule(user).ok);
            const messageOk =
              typeof message === "string" && message.trim() !== "" && message.length <= MAX_MESSAGE;
            const before = listener.chats().length;
            const a = await answer(await postMessage(room, text), [201, 400]);
            expect(a.status).toBe(messageOk && validUser ? 201 : 400);
            if (a.status !== 201) return;
            await listener.untilChats(before + 1);
            const frame = listener.chats()[before]!;
            expect(frame.id).toBe(a.json.id);
            expect(frame.message).toBe(message);
            const named = typeof user === "string" ? nameRule(user) : { ok: true, name: null };
            expect(frame.user).toBe((named.ok && named.name) || "api");
          },
        ),
        opts(80, false),
      );
    } finally {
      listener.close();
    }
  });

  it("answers any other body (any JSON, broken JSON, random bytes, oversized) with 400 or 413, never a 5xx", async () => {
    const room = uniqueRoom("junk");
    const body = fc.oneof(
      anyJson.map((v) => JSON.stringify(v)),
      anyText,
      fc.uint8Array({ maxLength: 2000 }),
      fc.integer({ min: MAX_BODY + 1, max: 4 * MAX_BODY }).map((n) => "x".repeat(n)),
      fc
        .integer({ min: MAX_BODY + 1, max: 2 * MAX_BODY })
        .map((n) => JSON.stringify({ message: "hi", pad: "p".repeat(n) })),
    );
    await fc.assert(
      fc.asyncProperty(
        body,
        fc.constantFrom("application/json", "text/plain", ""),
        async (b, type) => {
          const size = typeof b === "string" ? new TextEncoder().encode(b).length : b.length;
          const headers: Record<string, string> = type ? { "Content-Type": type } : {};
          const res = await request(`/api/rooms/${room}/messages`, {
            method: "POST",
            headers: { ...bearer(), ...headers },
            body: b,
          });
          const a = await answer(res, [201, 400, 413]);
          expect(size > MAX_BODY ? [413] : [201, 400]).toContain(a.status);
        },
      ),
      opts(60, false),
    );
  });

  it("refuses a streamed body over 256 KiB with 413 even without Content-Length", async () => {
    const chunk = new TextEncoder().encode("x".repeat(16 * 1024));
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent++ < 20) controller.enqueue(chunk);
        else controller.close();
      },
    });
    const res = await request(`/api/rooms/${uniqueRoom()}/messages`, {
      method: "POST",
      headers: { ...bearer(), "Content-Type": "application/json" },
      body: stream,
    });
    expect((await answer(res, [413])).json.error).toMatch(/larger than/);
  });
});

// ---------------------------------------------------------------- join tokens

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

type Claims = { sub?: unknown; name?: unknown; room?: unknown; exp?: unknown; nbf?: unknown };

/** README "Identity and private rooms": what a socket presenting these claims gets. */
function tokenRule(claims: Claims, room: string): { status: number; name?: string } {
  const now = Date.now() / 1000;
  const { sub, name, room: scope, exp, nbf } = claims;
  // docs/identity.md: 60 s of leeway for clock drift.
  if (typeof exp !== "number" || exp + 60 <= now) return { status: 401 };
  if (typeof nbf === "number" && nbf - 60 > now) return { status: 401 };
  if (typeof sub !== "string" || sub === "" || codePoints(sub) > 128 || CONTROL.test(sub))
    return { status: 401 };
  if (typeof scope !== "string") return { status: 401 };
  if (scope !== "*" && scope.normalize("NFC") !== room) return { status: 403 };
  const named = typeof name === "string" ? nameRule(name) : { ok: true as const, name: null };
  if (!named.ok) return { status: 401 };
  if (named.name !== null) return { status: 101, name: named.name };
  // README: without a name claim, the sub by the display-name rule (trimmed, cut to the limit).
  const fromSub = nameRule([...sub.trim()].slice(0, MAX_NAME).join(""));
  return { status: 101, name: (fromSub.ok && fromSub.name) || "member" };
}

const now = () => Math.floor(Date.now() / 1000);

/** Claims around the edges of every rule, for `room`. */
const claims = (room: string) =>
  fc.record(
    {
      sub: fc.oneof(
        { weight: 4, arbitrary: fc.string({ unit: "grapheme", minLength: 1, maxLength: 20 }) },
        {
          weight: 1,
          arbitrary: fc.constantFrom("", "a\u0000b", "x".repeat(129), "🙂".repeat(128)),
        },
        { weight: 1, arbitrary: notAString },
      ),
      name: fc.oneof(unicodeText(4), fc.string({ maxLength: 40 }), notAString),
      room: fc.oneof(
        { weight: 4, arbitrary: fc.constantFrom(room, "*", room.normalize("NFD")) },
        { weight: 1, arbitrary: fc.oneof(fc.constant(uniqueRoom("private-other")), notAString) },
      ),
      exp: fc.oneof(
        { weight: 4, arbitrary: fc.integer({ min: 60, max: 3600 }).map((d) => now() + d) },
        { weight: 1, arbitrary: fc.integer({ min: 1, max: 3600 }).map((d) => now() - d) },
        { weight: 1, arbitrary: fc.integer({ min: 55, max: 65 }).map((d) => now() - d) },
        { weight: 1, arbitrary: fc.oneof(fc.constant(String(now() + 600)), notAString) },
      ),
      nbf: fc.integer({ min: -600, max: 600 }).map((d) => now() + d),
    },
    { requiredKeys: ["exp"] },
  );

describe("join tokens (?token=)", () => {
  it("admits exactly the well-formed, well-signed tokens for the room, under their own id and name", async () => {
    const room = `private-tokens-é-${crypto.randomUUID()}`;
    await fc.assert(
      fc.asyncProperty(claims(room), async (c) => {
        const expected = tokenRule(c, room);
        const token = await jwt({ alg: "HS256", typ: "JWT" }, c, TEST_JOIN_SECRET);
        const res = await request(wsPath(room, `rich=1&name=ignored&token=${token}`), {
          headers: upgrade,
        });
        if (expected.status !== 101) {
          const a = await answer(res, [401, 403]);
          expect({ status: a.status, claims: c }).toEqual({ status: expected.status, claims: c });
          return;
        }
        expect({ status: res.status, claims: c }).toEqual({ status: 101, claims: c });
        const client = new Client(res.webSocket!);
        try {
          await client.untilType("welcome");
          expect(client.ofType("welcome")[0]!.you).toEqual({
            id: c.sub,
            name: expected.name,
            verified: true,
          });
        } finally {
          client.close();
        }
      }),
      opts(60, false),
    );
  });

  it("refuses forged, tampered and garbage tokens with a JSON 401", async () => {
    const room = `private-forged-${crypto.randomUUID()}`;
    const good = { sub: "mallory", room, exp: Math.floor(Date.now() / 1000) + 600 };
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

// ---------------------------------------------------------------- Origin

describe("the Origin header", () => {
  it("lets in no Origin and the page's own origin, and refuses everything else with a JSON 403", async () => {
    const room = uniqueRoom("origin");
    const host = new URL(ORIGIN).host;
    const origin = fc.oneof(
      fc.webUrl().map((u) => new URL(u).origin),
      fc.constantFrom(
        ORIGIN,
        `http://${host}`,
        `${ORIGIN}:8443`,
        `https://evil.${host}`,
        `https://${host}.evil.example`,
        "null",
        "",
        "file://",
        "https://",
        ORIGIN.toUpperCase(),
      ),
      fc.string({ maxLength: 30 }).filter((s) => !/[\r\n\0]/.test(s) && s.trim() === s),
    );
    await fc.assert(
      fc.asyncProperty(fc.option(origin, { nil: undefined }), async (o) => {
        // An empty header counts as no header, like a script that sends none.
        let allowed = o === undefined || o === "";
        try {
          allowed ||= o !== undefined && new URL(o).origin === new URL(ORIGIN).origin;
        } catch {
          // not a URL: refused
        }
        const headers: Record<string, string> = {
          ...upgrade,
          ...(o === undefined ? {} : { Origin: o }),
        };
        const a = await answer(await request(wsPath(room), { headers }), [101, 403]);
        expect({ origin: o, status: a.status }).toEqual({ origin: o, status: allowed ? 101 : 403 });
      }),
      opts(60, false),
    );
  });
});
