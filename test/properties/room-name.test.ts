/* oxlint-disable vitest/no-conditional-expect -- a property's expectation depends on the generated case */
/**
 * Room names (docs/protocol.md "Room names", docs/identity.md "Names that
 * cannot hide or imitate"): any Unicode text of 1 to 64 characters after
 * percent-decoding, NFC-normalised; no control characters, no `/`, no
 * whitespace at either end, not `.` or `..`, no invisible formatting
 * characters (with the documented exceptions), not `*`, and no public name
 * that reads as `private-…`. Invalid names get `400 {"error": "invalid room:
 * ..."}` on every route.
 *
 * Valid names are assembled from pieces the docs allow; each invalid one
 * breaks exactly one rule, so the expected answer is known by construction.
 */
import * as fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseRoomName, parseRoomSegment } from "../../src/identity/room-name";
import { request, uniqueRoom, wsPath, Client } from "../helpers";
import { anyText, encodeEveryByte, MAX_ROOM, opts, tricky, unicodeText } from "./arbitraries";
import { answer, bearer, postMessage, upgrade } from "./http";
import {
  codePoints,
  CONTROLS,
  edgeWhitespace,
  HIDDEN,
  hexOf,
  privateLookalike,
  visibleText,
  withInside,
} from "./labels";

const fits = (s: string) => codePoints(s.normalize("NFC")) <= MAX_ROOM;

/** Public rooms the docs allow; the expected value is the NFC form. */
const validRoom = visibleText(8).filter(fits);
/** Exactly "private-" then allowed text: a private room, still a valid name. */
const validPrivateRoom = visibleText(3)
  .map((rest) => `private-${rest}`)
  .filter(fits);

type Refused = { name: string; because: RegExp };

/** Names that break exactly one documented rule, with the part of the error that says which. */
const invalidRoom: fc.Arbitrary<Refused> = fc.oneof(
  fc.constant({ name: "", because: /empty/ }),
  fc
    .tuple(fc.constantFrom("a", "技", "🙂", "é"), fc.integer({ min: MAX_ROOM + 1, max: 200 }))
    .map(([c, n]) => ({ name: c.repeat(n), because: /longer than 64/ })),
  withInside(3, fc.constantFrom(...CONTROLS)).map(({ text }) => ({
    name: text,
    because: /control character/,
  })),
  withInside(3, fc.constant("/")).map(({ text }) => ({ name: text, because: /'\/'/ })),
  fc
    .tuple(visibleText(3), edgeWhitespace, fc.boolean())
    .filter(([s]) => codePoints(s) < MAX_ROOM)
    .map(([s, ws, atStart]) => ({
      name: atStart ? ws + s : s + ws,
      // Tab, newline and U+2028 are also controls, U+FEFF is also invisible:
      // either reason will do.
      because: /whitespace|control|invisible/,
    })),
  fc.constantFrom(".", "..").map((name) => ({ name, because: /'\.' or '\.\.'/ })),
  withInside(3, fc.constantFrom(...HIDDEN)).map(({ text, ch }) => ({
    name: text,
    because: new RegExp(`invisible formatting character \\(${hexOf(ch).replace("+", "\\+")}\\)`),
  })),
  fc.constantFrom("*", "＊", "﹡").map((name) => ({ name, because: /'\*' is not a room name/ })),
  privateLookalike.map((name) => ({ name, because: /looks like a private room/ })),
);

describe("room names", () => {
  it("parseRoomName accepts every name built from allowed pieces, as its NFC form", () => {
    fc.assert(
      fc.property(fc.oneof(validRoom, validPrivateRoom), (s) => {
        expect(parseRoomName(s)).toEqual({ ok: true, value: s.normalize("NFC") });
      }),
      opts(500),
    );
  });

  it("parseRoomName refuses every name that breaks one documented rule, saying which", () => {
    fc.assert(
      fc.property(invalidRoom, ({ name, because }) => {
        const parsed = parseRoomName(name);
        expect({ name, ok: parsed.ok }).toEqual({ name, ok: false });
        if (!parsed.ok) expect(parsed.error).toMatch(because);
      }),
      opts(1000),
    );
  });

  it("the docs' own examples get the documented answers", () => {
    const refused = [
      "*",
      "＊",
      "private\u200b-board",
      "Private-board",
      "PRIVATE-board",
      "ｐｒｉｖａｔｅ-board",
      "рrivate-board",
      "prıvate-board",
      "pr1vate-board",
      "private‐board",
    ];
    const accepted = ["技术交流", "private-board", "private board", "my private-board", "👩‍💻"];
    expect(refused.filter((s) => parseRoomName(s).ok)).toEqual([]);
    expect(accepted.filter((s) => !parseRoomName(s).ok)).toEqual([]);
  });

  it("whatever the text, an accepted name keeps every rule the docs can check without a table", () => {
    fc.assert(
      fc.property(anyText, (s) => {
        const parsed = parseRoomName(s);
        if (!parsed.ok) return;
        const room = parsed.value;
        expect(room).toBe(s.normalize("NFC"));
        expect(parseRoomName(room)).toEqual(parsed);
        expect(codePoints(room)).toBeGreaterThanOrEqual(1);
        expect(codePoints(room)).toBeLessThanOrEqual(MAX_ROOM);
        expect([...room].filter((c) => CONTROLS.includes(c) || c === "/")).toEqual([]);
        expect(room.trim()).toBe(room);
        expect([".", "..", "*"]).not.toContain(room.normalize("NFKC"));
        const alwaysHidden = HIDDEN.filter(
          (c) => !["\u200c", "\u200d", "\ufe0e", "\ufe0f"].includes(c),
        );
        expect([...room].filter((c) => alwaysHidden.includes(c))).toEqual([]);
      }),
      opts(1000),
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

  it("every route accepts the valid public rooms and answers each invalid one with 400", async () => {
    // "", "." and ".." can't be sent as a path segment at all: see the test below.
    const room = fc.oneof(
      validRoom.map((name) => ({ name, expected: name.normalize("NFC") as string | null })),
      invalidRoom
        .filter(({ name }) => !["", ".", ".."].includes(name))
        .map(({ name }) => ({ name, expected: null as string | null })),
    );
    await fc.assert(
      fc.asyncProperty(room, async ({ name, expected }) => {
        const segment = encodeURIComponent(name);
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
        const posted = await answer(await postMessage(name, '{"message":"hi"}'), [201, 400]);
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
  // matches no route, so these names never reach the room check; the Worker
  // answers what is left of the URL with 400 all the same.
  it("answers the names no URL can carry ('', '.', '..') with 400", async () => {
    for (const s of ["", ".", ".."]) {
      const res = await request(wsPath(s), { headers: upgrade });
      expect({ s, status: res.status }).toEqual({ s, status: 400 });
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

  it("a token-less socket to a valid private room is refused, not let in", async () => {
    const res = await request(wsPath(uniqueRoom("private-room")), { headers: upgrade });
    expect((await answer(res, [401])).status).toBe(401);
  });
});
