/**
 * @module api-routes
 * The bearer-token API for scripts and other backends: inject messages,
 * read a room's members and history.
 */
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { secureHeaders } from "hono/secure-headers";
import { validator } from "hono/validator";
import { requireBroadcastToken } from "./auth";
import type { IdempotencyKey } from "./chat-room";
import { MAX_BODY_BYTES, roomConfig } from "./config";
import { fail } from "./http-errors";
import { parseInjectBody } from "./inject-body";
import { intQuery, roomParam } from "./request-params";

export const api = new Hono<{ Bindings: Env }>();

api.use(secureHeaders(), requireBroadcastToken);

api.get("/rooms/:room", async (c) => {
  const room = roomParam(c);
  return c.json(await c.env.CHAT_ROOM.getByName(room).stats());
});

api.get("/rooms/:room/messages", async (c) => {
  const room = roomParam(c);
  const max = roomConfig(c.env).historyLimit;
  const since = intQuery(c, "since");
  const limit = intQuery(c, "limit", max) ?? Math.min(100, max);
  return c.json(await c.env.CHAT_ROOM.getByName(room).history(since, limit));
});

api.post(
  "/rooms/:room/messages",
  bodyLimit({
    maxSize: MAX_BODY_BYTES,
    onError: () => fail(413, `request body is larger than ${MAX_BODY_BYTES} bytes`),
  }),
  validator("json", (body: unknown, c) => {
    const parsed = parseInjectBody(body, roomConfig(c.env).maxMessageChars);
    if (!parsed.ok) fail(400, parsed.error);
    return parsed.value;
  }),
  async (c) => {
    const room = roomParam(c);
    const body = c.req.valid("json");
    const key = await idempotencyKey(c.req.header("Idempotency-Key"), body.messages);
    const result = await c.env.CHAT_ROOM.getByName(room).inject(body.messages, key);
    if (result === "conflict")
      fail(
        422,
        "this Idempotency-Key was already used with a different body: use a new key per message",
      );
    if (result.replayed) c.header("Idempotent-Replayed", "true");
    const [id] = result.ids;
    return c.json(
      body.batch
        ? { ids: result.ids, delivered: result.delivered }
        : { id, delivered: result.delivered },
      201,
    );
  },
);

/** Keys are 1 to 255 visible ASCII characters, like Stripe's; a UUID is typical. */
async function idempotencyKey(
  header: string | undefined,
  messages: unknown,
): Promise<IdempotencyKey | null> {
  if (header === undefined) return null;
  if (!/^[\x21-\x7e]{1,255}$/.test(header))
    fail(400, "invalid Idempotency-Key: use 1 to 255 visible ASCII characters, e.g. a UUID");
  const digest = await crypto.subtle.digest(
    "SHA-256",
    new TextEncoder().encode(JSON.stringify(messages)),
  );
  const fingerprint = Array.from(new Uint8Array(digest), (b) =>
    b.toString(16).padStart(2, "0"),
  ).join("");
  return { key: header, fingerprint };
}
