/* oxlint-disable vitest/no-conditional-expect -- a property's expectation depends on the generated case */
/**
 * Property-based tests for every parser at the edge: room names, client
 * frames, display names, `since`, the inject API body and the Authorization
 * header. Each parser is driven directly and through the real routes and
 * sockets. The properties:
 *
 * - never a crash or a 5xx;
 * - hostile input always gets a documented answer: 400/401/413/426 with a
 *   JSON `{"error"}` over HTTP, an error frame with a documented code over a
 *   socket (which stays usable, and nobody else hears about it);
 * - valid input is always accepted and comes back exactly as sent.
 *
 * The expected answers come from the README's rules, written out again here
 * (`roomRule`, `nameRule`, ...) rather than taken from src/. Run counts are
 * modest so the file takes seconds; a failure prints a seed to replay it.
 */
import * as fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseDisplayName } from "../src/display-name";
import { parseClientFrame, type ErrorCode } from "../src/protocol";
import { parseRoomName, parseRoomSegment } from "../src/room-name";
import {
  api,
  closeAll,
  connect,
  request,
  TEST_TOKEN,
  uniqueRoom,
  wsPath,
  Client,
  type Frame,
} from "./helpers";
import { ORIGIN } from "./helpers";
import { TEST_HISTORY_LIMIT, TEST_JOIN_SECRET } from "./test-env";

// Documented limits (README), unchanged by the test configuration.
const MAX_ROOM = 64;
const MAX_NAME = 32;
const MAX_MESSAGE = 2000;
const MAX_BODY = 256 * 1024;

/** Every documented error code; the compiler insists the list stays complete. */
const ERROR_CODES = Object.keys({
  bad_json: true,
  bad_frame: true,
  binary_frame: true,
  empty_message: true,
  message_too_long: true,
  rate_limited: true,
} satisfies Record<ErrorCode, true>);

// ---------------------------------------------------------------- generators

/** What String.prototype.trim removes (WhiteSpace and LineTerminator). */
const WHITESPACE = [
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
const TRICKY = [
  "",
  "/",
  "\\",
  ".",
  "..",
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
  "\u200b",
  "\u200e",
  "\u202e",
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
  "*",
  "\uff0a",
  "private-",
  "Private-",
  "\u0440rivate-",
  "\u200d",
  "\ufe0f",
  "\u3164",
  ...WHITESPACE,
];

const tricky = fc.constantFrom(...TRICKY);
const loneSurrogate = fc.constantFrom("\ud800", "\udbff", "\udc00", "\udfff");
const anyCodePoints = (maxLength: number) => fc.string({ unit: "binary", maxLength });

/** Well-formed Unicode: any code point, astral included, mixed with edge fragments. */
const unicodeText = (maxPieces: number) =>
  fc
    .array(fc.oneof(tricky, anyCodePoints(6), fc.string({ maxLength: 6 })), {
      maxLength: maxPieces,
    })
    .map((pieces) => pieces.join(""));

/** Also ill-formed UTF-16 (lone surrogates), which no URL can carry but JSON can. */
const anyText = fc.oneof(
  { weight: 4, arbitrary: unicodeText(12) },
  { weight: 1, arbitrary: fc.array(fc.oneof(loneSurrogate, tricky)).map((a) => a.join("")) },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.oneof(tricky, anyCodePoints(3)), fc.integer({ min: 1, max: 50_000 }))
      .map(([s, n]) => s.repeat(n)),
  },
);

const whitespaceOnly = fc
  .array(fc.constantFrom(...WHITESPACE), { maxLength: 10 })
  .map((a) => a.join(""));

/** A message the room must accept: not blank, at most MAX_MESSAGE UTF-16 units. */
const validMessage = fc
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

/** README: whole numbers only, at most 16 digits, no larger than 2^53 - 1. */
function sinceRule(value: string): boolean {
  return value === "" || (/^[0-9]{1,16}$/.test(value) && Number(value) <= Number.MAX_SAFE_INTEGER);
}

/**
 * Hono's bearer-auth after the Headers class strips surrounding spaces and
 * tabs: the scheme in any case, a space, then the exact token.
 */
function tokenAccepted(value: string): boolean {
  const v = value.replace(/^[ \t]+|[ \t]+$/g, "");
  return (
    v.slice(0, 6).toLowerCase() === "bearer" &&
    v[6] === " " &&
    v.slice(6).trimStart() === TEST_TOKEN
  );
}

/** Percent-encodes every UTF-8 byte, the most literal spelling of a path segment. */
function encodeEveryByte(s: string, lower: boolean): string {
  const hex = Array.from(
    new TextEncoder().encode(s),
    (b) => `%${b.toString(16).padStart(2, "0")}`,
  ).join("");
  return lower ? hex : hex.toUpperCase();
}

// ---------------------------------------------------------------- helpers

interface HttpAnswer {
  status: number;
  json: { error?: unknown } & Record<string, unknown>;
  contentType: string;
}

/** Reads an answer and checks the HTTP half of every property: no 5xx, errors are JSON. */
async function answer(res: Response, allowed: number[]): Promise<HttpAnswer> {
  const contentType = res.headers.get("Content-Type") ?? "";
  if (res.status === 101) {
    res.webSocket?.accept();
    res.webSocket?.close(1000, "done");
    return { status: 101, json: {}, contentType };
  }
  const text = await res.text();
  expect(allowed, `status ${res.status}: ${text.slice(0, 200)}`).toContain(res.status);
  expect(contentType).toMatch(/^application\/json/);
  const json = JSON.parse(text) as HttpAnswer["json"];
  if (res.status >= 400) {
    expect(typeof json.error).toBe("string");
    expect((json.error as string).length).toBeGreaterThan(0);
  }
  return { status: res.status, json, contentType };
}

const upgrade = { Upgrade: "websocket" };
/**
 * The token, from a fresh client address each time: the API is rate-limited
 * per address, and these tests are about parsing, not about that limit.
 */
function bearer(): Record<string, string> {
  return { Authorization: `Bearer ${TEST_TOKEN}`, "CF-Connecting-IP": randomAddress() };
}

function randomAddress(): string {
  return `10.${Array.from(crypto.getRandomValues(new Uint8Array(3))).join(".")}`;
}

function postMessage(room: string, body: BodyInit, headers: HeadersInit = {}) {
  return request(`/api/rooms/${encodeURIComponent(room)}/messages`, {
    method: "POST",
    headers: { ...bearer(), "Content-Type": "application/json", ...headers },
    body,
  });
}

/** Pure properties shrink a failure to a minimal case; the ones over the network stop at the first. */
const opts = (numRuns: number, shrink = true) => ({ numRuns, endOnFailure: !shrink });

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

// ---------------------------------------------------------------- client frames

type FrameCase =
  | { data: string | ArrayBuffer; ok: string }
  | { data: string | ArrayBuffer; code: ErrorCode };

/** Frames over the pre-parse size cap are refused before JSON.parse. */
const FRAME_CAP = MAX_MESSAGE * 6 + 1024;
const capped = (c: FrameCase): FrameCase =>
  typeof c.data === "string" && c.data.length > FRAME_CAP
    ? { data: c.data, code: "message_too_long" }
    : c;

const extraKeys = fc.dictionary(
  // "messages" would make an inject body a batch.
  fc
    .string({ maxLength: 8 })
    .filter((k) => !["message", "messages", "user", "__proto__"].includes(k)),
  fc.jsonValue({ maxDepth: 2 }),
  { maxKeys: 3 },
);

/** A JSON value that is not a string, including deep nesting. */
const notAString = fc.oneof(
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.jsonValue({ maxDepth: 2 }), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 4 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 }),
);

const nested = (depth: number, open: string, close: string, inner = "0") =>
  open.repeat(depth) + inner + close.repeat(depth);

/** Client frames labelled with the answer the README promises for them. */
const frameCase: fc.Arbitrary<FrameCase> = fc
  .oneof(
    fc.tuple(validMessage, extraKeys, fc.boolean()).map(([message, extra, first]) => ({
      data: JSON.stringify(first ? { message, ...extra } : { ...extra, message }),
      ok: message,
    })),
    anyText
      .filter((s) => {
        try {
          JSON.parse(s);
          return false;
        } catch {
          return s !== "ping";
        }
      })
      .map((data) => ({ data, code: "bad_json" as const })),
    fc
      .oneof(notAString, fc.string({ maxLength: 20 }))
      .map((v) => ({ data: JSON.stringify(v), code: "bad_frame" as const })),
    fc.tuple(fc.option(notAString, { nil: undefined }), extraKeys).map(([message, extra]) => ({
      data: JSON.stringify({ ...extra, message }),
      code: "bad_frame" as const,
    })),
    whitespaceOnly.map((message) => ({
      data: JSON.stringify({ message }),
      code: "empty_message" as const,
    })),
    fc
      .tuple(anyCodePoints(3), fc.integer({ min: MAX_MESSAGE + 1, max: 3 * MAX_MESSAGE }))
      .map(([s, n]) => (s === "" ? "y" : s).repeat(n).slice(0, n))
      .filter((m) => m.trim() !== "")
      .map((message) => ({ data: JSON.stringify({ message }), code: "message_too_long" as const })),
    // Deep nesting beside a valid message, as an entire frame, and unbalanced.
    fc
      .tuple(validMessage, fc.integer({ min: 1, max: 8000 }), fc.boolean())
      .map(([message, depth, arrays]) => ({
        data: `{"deep":${arrays ? nested(depth, "[", "]") : nested(depth, '{"a":', "}")},"message":${JSON.stringify(message)}}`,
        ok: message,
      })),
    fc.integer({ min: 1, max: 20_000 }).map((depth) => ({
      data: nested(depth, "[", "]"),
      code: "bad_frame" as const,
    })),
    fc.integer({ min: 1, max: 20_000 }).map((depth) => ({
      data: "[".repeat(depth),
      code: "bad_json" as const,
    })),
    fc
      .uint8Array({ maxLength: 3000 })
      .map((bytes) => ({ data: bytes.buffer as ArrayBuffer, code: "binary_frame" as const })),
  )
  .map(capped);

/** What a client can tell from an answer: the accepted text, or the error's code and wording. */
function summary(result: ReturnType<typeof parseClientFrame>) {
  return result.ok
    ? { ok: result.message }
    : {
        type: result.error.type,
        code: result.error.code,
        explained: result.error.message.length > 5,
      };
}

function promised(c: FrameCase) {
  return "ok" in c ? { ok: c.ok } : { type: "error", code: c.code, explained: true };
}

describe("client frames", () => {
  it("parseClientFrame gives the documented answer for each kind of frame", () => {
    fc.assert(
      fc.property(frameCase, (c) => {
        expect(summary(parseClientFrame(c.data, MAX_MESSAGE))).toEqual(promised(c));
      }),
      opts(500),
    );
  });

  it("parseClientFrame never throws and only ever answers with a documented code", () => {
    const anything = fc.oneof(
      anyText,
      fc.json({ maxDepth: 4 }),
      fc.anything({ maxDepth: 3 }).map((v) => {
        try {
          return JSON.stringify({ message: v }) ?? "";
        } catch {
          return "";
        }
      }),
    );
    fc.assert(
      fc.property(anything, (data) => {
        const result = parseClientFrame(data, MAX_MESSAGE);
        if (!result.ok) expect(ERROR_CODES).toContain(result.error.code);
        else expect(result.message.trim()).not.toBe("");
      }),
      opts(500),
    );
  });

  it("over a real socket: each bad frame gets its error frame, good ones arrive verbatim, nobody else hears a thing", async () => {
    await fc.assert(
      fc.asyncProperty(
        // At most 15 valid frames, so the 20-per-10-s limit never kicks in.
        fc
          .array(frameCase, { minLength: 1, maxLength: 8 })
          .filter((cs) => cs.filter((c) => "ok" in c).length <= 15),
        async (cases) => {
          const room = uniqueRoom("frames");
          const sender = await connect(room, "name=sender");
          const observer = await connect(room, "name=observer");
          try {
            for (const c of cases) sender.ws.send(c.data);
            await sender.until((s) => s.frames.length >= cases.length, `${cases.length} answers`);
            const answers = sender.frames.map((f) =>
              f.type === "chat" ? { ok: f.message as string } : { code: f.code as string },
            );
            expect(answers).toEqual(
              cases.map((c) => ("ok" in c ? { ok: c.ok } : { code: c.code })),
            );

            // Still usable; the observer's stream is exactly the valid frames, then this one.
            sender.send({ message: "still here" });
            const valid = cases.filter((c) => "ok" in c).map((c) => c.ok);
            await observer.untilChats(valid.length + 1);
            expect(observer.frames.map((f) => [f.type, f.message])).toEqual(
              [...valid, "still here"].map((m) => ["chat", m]),
            );
            expect(observer.raw.every((r) => typeof r === "string")).toBe(true);
          } finally {
            closeAll([sender, observer]);
          }
        },
      ),
      opts(25, false),
    );
  });

  it("over a real socket: huge text and binary frames are refused without closing the socket", async () => {
    const room = uniqueRoom("huge");
    const sender = await connect(room);
    const observer = await connect(room);
    try {
      const huge = [
        "x".repeat(1 << 20),
        JSON.stringify({ message: "🙂".repeat(200_000) }),
        `{"message":"${"\\u0041".repeat(MAX_MESSAGE + 1)}"}`,
      ];
      for (const data of huge) sender.ws.send(data);
      sender.ws.send(new Uint8Array(1 << 20).buffer);
      await sender.untilType("error", 4);
      expect(sender.ofType("error").map((f) => f.code)).toEqual([
        "message_too_long",
        "message_too_long",
        "message_too_long",
        "binary_frame",
      ]);
      sender.send({ message: "after the flood" });
      await observer.untilChats(1);
      expect(observer.frames.map((f) => f.message)).toEqual(["after the flood"]);
    } finally {
      closeAll([sender, observer]);
    }
  });
});

// ---------------------------------------------------------------- valid messages round-trip

async function historyAt(room: string, id: number) {
  const res = await api(`/rooms/${encodeURIComponent(room)}/messages?since=${id - 1}&limit=1`, {
    headers: bearer(),
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { messages: { id: number; message: string; user: string }[] })
    .messages[0];
}

describe("valid messages", () => {
  it("arrive byte-identical to every member, from a socket or the inject API, and read back identically from history", async () => {
    const room = uniqueRoom("unicode");
    const observer = await connect(room);
    const senders: Client[] = [];
    let sent = 0;
    try {
      await fc.assert(
        fc.asyncProperty(validMessage, fc.boolean(), async (message, viaSocket) => {
          const before = observer.chats().length;
          if (viaSocket) {
            // A fresh connection every 15 messages keeps clear of the rate limit.
            if (sent % 15 === 0) {
              senders.at(-1)?.close();
              senders.push(await connect(room, "name=sender"));
            }
            sent++;
            senders.at(-1)!.send({ message });
          } else {
            const a = await answer(await postMessage(room, JSON.stringify({ message })), [201]);
            expect(typeof a.json.id).toBe("number");
          }
          await observer.untilChats(before + 1);
          const frame = observer.chats()[before]!;
          expect(frame.message).toBe(message);
          expect((await historyAt(room, frame.id as number))?.message).toBe(message);
        }),
        opts(40, false),
      );
    } finally {
      closeAll([observer, ...senders]);
    }
  });

  // A lone surrogate ("\ud800", legal in JSON) cannot be stored as UTF-8;
  // the room replaces it with U+FFFD before broadcasting, so members online
  // and members resuming with since= see the same text. Same for `user`.
  it("a message with a lone surrogate reads back from history exactly as it was delivered", async () => {
    const room = uniqueRoom("surrogate");
    const observer = await connect(room);
    try {
      observer.send({ message: "half \ud83d of an emoji" });
      // Refusing it with an error frame would be a fix too.
      await observer.until((c) => c.frames.length > 0, "an answer");
      const live = observer.chats()[0];
      const stored = live && (await historyAt(room, live.id as number));
      expect(stored?.message).toBe(live?.message);
    } finally {
      observer.close();
    }
  });

  it("an injected user name with a lone surrogate reads back from history exactly as it was delivered", async () => {
    const room = uniqueRoom("surrogate-user");
    const observer = await connect(room);
    try {
      const a = await answer(
        await postMessage(room, '{"message":"hi","user":"bot\\udc00"}'),
        [201, 400],
      );
      // Refusing it with a 400 would be a fix too.
      if (a.status === 201) await observer.untilChats(1);
      const live = observer.chats()[0];
      const stored = live && (await historyAt(room, live.id as number));
      expect(stored?.user).toBe(live?.user);
    } finally {
      observer.close();
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

// ---------------------------------------------------------------- since

describe("since", () => {
  const sinceText = fc.oneof(
    fc.stringMatching(/^[0-9]{0,20}$/),
    fc.bigInt({ min: 0n, max: 2n ** 64n }).map(String),
    fc.constantFrom(
      "-1",
      "+1",
      " 1",
      "1 ",
      "1.0",
      "1e3",
      "0x10",
      "Infinity",
      "NaN",
      "１",
      "١",
      "9007199254740991",
      "9007199254740992",
      "0000000000000001",
      "00000000000000001",
    ),
    anyText.filter((s) => s.isWellFormed()),
  );

  it("is accepted exactly when it is a whole number up to 2^53 - 1 with at most 16 digits", async () => {
    const room = uniqueRoom("since");
    await fc.assert(
      fc.asyncProperty(sinceText, async (s) => {
        const ok = sinceRule(s);
        const query = `since=${encodeURIComponent(s)}`;
        const ws = await answer(
          await request(wsPath(room, query), { headers: upgrade }),
          [101, 400],
        );
        expect(ws.status).toBe(ok ? 101 : 400);
        if (!ok) expect(ws.json.error).toMatch(/^invalid since/);
        const history = await answer(
          await request(`/api/rooms/${room}/messages?${query}`, { headers: bearer() }),
          [200, 400],
        );
        expect(history.status).toBe(ok ? 200 : 400);
      }),
      opts(80, false),
    );
  });

  it("replays exactly the retained messages after since, on the socket and through the API", async () => {
    const room = uniqueRoom("replay");
    const total = 12;
    for (let i = 1; i <= total; i++)
      await answer(await postMessage(room, JSON.stringify({ message: `m${i}` })), [201]);
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(fc.integer({ min: 0, max: total + 3 }), fc.constant(Number.MAX_SAFE_INTEGER)),
        fc.integer({ min: 1, max: TEST_HISTORY_LIMIT }),
        async (since, limit) => {
          const expected = Array.from({ length: total }, (_, i) => i + 1).filter(
            (id) => id > since,
          );
          const client = await connect(room, `since=${since}&rich=1`);
          try {
            await client.untilType("welcome");
            await client.untilChats(expected.length);
            // Live messages would follow; none are sent, so what's here is the replay.
            await client.quiet(20);
            expect(client.chats().map((f) => f.id)).toEqual(expected);
          } finally {
            client.close();
          }
          const res = await api(`/rooms/${room}/messages?since=${since}&limit=${limit}`, {
            headers: bearer(),
          });
          const body = (await res.json()) as { messages: { id: number }[] };
          expect(body.messages.map((m) => m.id)).toEqual(expected.slice(0, limit));
        },
      ),
      opts(25, false),
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

// ---------------------------------------------------------------- Authorization

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
        fc.constantFrom("Bearer", "bearer", "BEARER", "Basic", "Token", "Bearer:", ""),
        fc.constantFrom(" ", "  ", "\t", ""),
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
        expect(a.status).toBe(tokenAccepted(value) ? 200 : 401);
        if (a.status === 401) expect(res.headers.get("WWW-Authenticate")).toMatch(/^Bearer/);
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
