/* oxlint-disable vitest/no-conditional-expect -- a property's expectation depends on the generated case */
/**
 * Client frames (docs/protocol.md, "Errors"): every frame a client can send
 * gets the documented answer, directly from the parser and over a real socket.
 * Each generated frame is labelled, as it is built, with the answer the docs
 * promise for it:
 *
 * - `{"message": <text>}`, other keys ignored: accepted when the text is not
 *   blank and at most MAX_MESSAGE_CHARS UTF-16 code units;
 * - not JSON: `bad_json`; JSON but not an object, or `message` missing or not a
 *   string: `bad_frame`; blank: `empty_message`; too long: `message_too_long`;
 *   binary: `binary_frame`;
 * - a frame of more than 6 × MAX_MESSAGE_CHARS + 1024 characters is refused as
 *   `message_too_long` before it is parsed;
 * - `clientId`, when present: 1 to 64 ASCII letters, digits, `-` or `_`, echoed
 *   on the chat frame; anything else is `bad_frame`. Error frames for a frame
 *   with a clientId name it.
 */
import * as fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseClientFrame, type ErrorCode } from "../../src/protocol";
import { closeAll, connect, uniqueRoom } from "../helpers";
import {
  anyCodePoints,
  anyText,
  extraKeys,
  MAX_MESSAGE,
  notAString,
  opts,
  validMessage,
  whitespaceOnly,
} from "./arbitraries";

/** Every documented error code; the compiler insists the list stays complete. */
const ERROR_CODES = Object.keys({
  bad_json: true,
  bad_frame: true,
  binary_frame: true,
  empty_message: true,
  message_too_long: true,
  rate_limited: true,
  bad_cursor: true,
  // Only the publish hook's verdicts, never a parse result.
  refused: true,
  unavailable: true,
  busy: true,
} satisfies Record<ErrorCode, true>);

type FrameCase =
  | { data: string | ArrayBuffer; ok: string; clientId?: string }
  | { data: string | ArrayBuffer; code: ErrorCode; clientId?: string };

/** docs/protocol.md: frames over this many characters are refused before parsing. */
const FRAME_CAP = MAX_MESSAGE * 6 + 1024;
const capped = (c: FrameCase): FrameCase =>
  typeof c.data === "string" && c.data.length > FRAME_CAP
    ? { data: c.data, code: "message_too_long" }
    : c;

const CLIENT_ID_ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_";
const validClientId = fc.string({
  unit: fc.constantFrom(...CLIENT_ID_ALPHABET),
  minLength: 1,
  maxLength: 64,
});
/** Each built by breaking exactly one part of the documented clientId rule. */
const invalidClientId = fc.oneof(
  fc.constant(""),
  fc.string({ unit: fc.constantFrom(...CLIENT_ID_ALPHABET), minLength: 65, maxLength: 80 }),
  fc
    .tuple(
      validClientId,
      fc.constantFrom(" ", ".", "/", "+", "=", "é", "٣", "🙂", "\u0000", "\u200b"),
      fc.nat(),
    )
    .map(([id, bad, at]) => {
      const i = at % (id.length + 1);
      return id.slice(0, i) + bad + id.slice(i);
    }),
  notAString,
);

const nested = (depth: number, open: string, close: string, inner = "0") =>
  open.repeat(depth) + inner + close.repeat(depth);

const frameCase: fc.Arbitrary<FrameCase> = fc
  .oneof(
    fc.tuple(validMessage, extraKeys, fc.boolean()).map(([message, extra, first]) => ({
      data: JSON.stringify(first ? { message, ...extra } : { ...extra, message }),
      ok: message,
    })),
    fc.tuple(validMessage, validClientId).map(([message, clientId]) => ({
      data: JSON.stringify({ clientId, message }),
      ok: message,
      clientId,
    })),
    fc.tuple(validMessage, invalidClientId).map(([message, clientId]) => ({
      data: JSON.stringify({ message, clientId }),
      code: "bad_frame" as const,
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
    fc.tuple(whitespaceOnly, validClientId).map(([message, clientId]) => ({
      data: JSON.stringify({ message, clientId }),
      code: "empty_message" as const,
      clientId,
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
  if (result.ok && "members" in result) return { members: result.members };
  return result.ok
    ? { ok: result.message, clientId: result.clientId }
    : {
        type: result.error.type,
        code: result.error.code,
        explained: result.error.message.length > 5,
        clientId: result.error.clientId,
      };
}

function promised(c: FrameCase) {
  return "ok" in c
    ? { ok: c.ok, clientId: c.clientId }
    : { type: "error", code: c.code, explained: true, clientId: c.clientId };
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

  it("parseClientFrame echoes exactly the documented clientIds and refuses the rest as bad_frame", () => {
    fc.assert(
      fc.property(
        validMessage,
        fc.oneof(
          validClientId.map((id) => ({ id, ok: true })),
          invalidClientId.map((id) => ({ id, ok: false })),
        ),
        (message, c) => {
          const result = parseClientFrame(JSON.stringify({ message, clientId: c.id }), MAX_MESSAGE);
          expect(summary(result)).toEqual(
            c.ok
              ? { ok: message, clientId: c.id }
              : { type: "error", code: "bad_frame", explained: true, clientId: undefined },
          );
        },
      ),
      opts(500),
    );
  });

  it("a members request takes no cursor or a cursor as the room hands them out, and nothing else", () => {
    // The protocol docs: cursors are the `more` of a welcome or the `next` of
    // a members frame, strings of digits; anything else is `bad_cursor`.
    const handedOut = fc.bigInt({ min: 0n, max: 10n ** 15n - 1n }).map(String);
    const notACursor = fc
      .oneof(
        fc.string(),
        fc.integer(),
        fc.boolean(),
        fc.array(fc.string(), { maxLength: 2 }),
        fc.constantFrom("", "-1", "1.5", " 7", "7 ", "1e3", "0x10", "1".repeat(16), "١٢"),
      )
      .filter((c) => !(typeof c === "string" && /^[0-9]{1,15}$/.test(c)));
    fc.assert(
      fc.property(handedOut, notACursor, (cursor, bad) => {
        expect(summary(parseClientFrame(JSON.stringify({ type: "members" }), MAX_MESSAGE))).toEqual(
          { members: { cursor: null } },
        );
        expect(
          summary(parseClientFrame(JSON.stringify({ type: "members", cursor }), MAX_MESSAGE)),
        ).toEqual({ members: { cursor } });
        const refused = summary(
          parseClientFrame(JSON.stringify({ type: "members", cursor: bad }), MAX_MESSAGE),
        );
        expect(refused).toMatchObject({ type: "error", code: "bad_cursor", explained: true });
      }),
      opts(300),
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
        else if ("members" in result) expect(JSON.parse(data as string).type).toBe("members");
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
          .filter((cs) => cs.filter((c) => "ok" in c).length <= 15)
          // One clientId per message: a repeated one is a resend (its own test file).
          .filter((cs) => {
            const ids = cs.flatMap((c) => ("ok" in c && c.clientId ? [c.clientId] : []));
            return new Set(ids).size === ids.length;
          }),
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
