/* oxlint-disable vitest/no-conditional-expect -- a property's expectation depends on the generated case */
/**
 * The inject API body (docs/http-api.md): `{"message": string, "user"?: string}`,
 * other keys ignored. 201 exactly when `message` is a valid message (not blank,
 * at most MAX_MESSAGE_CHARS UTF-16 code units) and `user`, if present, a valid
 * display name; the message then appears under that name (trimmed, NFC), or
 * `api` when there is none. Anything else is a JSON 400, a body over 256 KiB a
 * 413, never a 5xx. Each field is labelled valid or not as it is generated.
 */
import * as fc from "fast-check";
import { describe, expect, it } from "vitest";
import { connect, request, uniqueRoom } from "../helpers";
import {
  anyText,
  extraKeys,
  MAX_BODY,
  MAX_MESSAGE,
  notAString,
  opts,
  validMessage,
  whitespaceOnly,
} from "./arbitraries";
import { answer, bearer, postMessage } from "./http";
import { invalidName, validName } from "./labels";

type Field = { value: unknown; ok: boolean };

const messageField: fc.Arbitrary<Field> = fc.oneof(
  { weight: 3, arbitrary: validMessage.map((value) => ({ value, ok: true })) },
  { weight: 1, arbitrary: whitespaceOnly.map((value) => ({ value, ok: false })) },
  {
    weight: 1,
    arbitrary: fc
      .string({ minLength: MAX_MESSAGE + 1, maxLength: MAX_MESSAGE + 50 })
      .map((value) => ({ value, ok: false })),
  },
  { weight: 2, arbitrary: notAString.map((value) => ({ value, ok: false })) },
  { weight: 1, arbitrary: fc.constant({ value: undefined, ok: false }) },
);

type UserField = { value: unknown; shown: string | null };
/** `shown`: the name the room must show; null when the body must be refused. */
const userField: fc.Arbitrary<UserField> = fc.oneof(
  validName.map(({ name, shown }) => ({ value: name, shown })),
  whitespaceOnly.map((value) => ({ value, shown: "api" })),
  fc.constant({ value: undefined, shown: "api" }),
  invalidName.map(({ name }) => ({ value: name, shown: null })),
  notAString.map((value) => ({ value, shown: null })),
);

describe("the inject API body", () => {
  it("answers 201 exactly for a valid message and user, 400 otherwise, and delivers what it accepted verbatim", async () => {
    const room = uniqueRoom("inject");
    const listener = await connect(room);
    try {
      await fc.assert(
        fc.asyncProperty(messageField, userField, extraKeys, async (message, user, extra) => {
          const text = JSON.stringify({ ...extra, message: message.value, user: user.value });
          const accepted = message.ok && user.shown !== null;
          const before = listener.chats().length;
          const a = await answer(await postMessage(room, text), [201, 400]);
          expect(a.status).toBe(accepted ? 201 : 400);
          if (a.status !== 201) return;
          await listener.untilChats(before + 1);
          const frame = listener.chats()[before]!;
          expect(frame.id).toBe(a.json.id);
          expect(frame.message).toBe(message.value);
          expect(frame.user).toBe(user.shown);
        }),
        opts(80, false),
      );
    } finally {
      listener.close();
    }
  });

  it("answers any other body (any JSON, broken JSON, random bytes, oversized) with 400 or 413, never a 5xx", async () => {
    const room = uniqueRoom("junk");
    const body = fc.oneof(
      fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)),
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
