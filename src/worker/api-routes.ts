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
import type { IdempotencyKey } from "../room/chat-room";
import { MAX_BODY_BYTES, roomConfig } from "../config";
import { fail } from "./http-errors";
import { parseInjectBody } from "./inject-body";
import { limitApiRequests } from "./rate-limit";
import { mintJoinToken, MAX_TOKEN_TTL_SECONDS, verifyJoinToken } from "../identity/join-token";
import { MEMBER_PAGE } from "../room/presence";
import { cursorQuery, intQuery, missingRoom, roomParam } from "./request-params";
import { toHex } from "../text";

const MAX_BAN_SECONDS = 365 * 24 * 60 * 60;
/** Members per page of the members API, at most: an answer never grows with the room. */
const MAX_MEMBERS_PER_PAGE = 1000;
const DEFAULT_TOKEN_TTL_SECONDS = 60 * 60;

export const api = new Hono<{ Bindings: Env }>();

api.use(secureHeaders(), limitApiRequests, requireBroadcastToken);

api.get("/rooms/:room", async (c) => {
  const room = roomParam(c);
  return c.json(await c.env.CHAT_ROOM.getByName(room).stats());
});

api.get("/rooms/:room/messages", async (c) => {
  const room = roomParam(c);
  const max = roomConfig(c.env).historyLimit;
  const since = intQuery(c, "since");
  const limit = intQuery(c, "limit", max) ?? Math.min(100, max);
  const epoch = intQuery(c, "epoch");
  return c.json(await c.env.CHAT_ROOM.getByName(room).history(since, limit, epoch));
});

api.post(
  "/rooms/:room/messages",
  bodyLimit({
    maxSize: MAX_BODY_BYTES,
    onError: () => fail(413, `request body is larger than ${MAX_BODY_BYTES} bytes`),
  }),
  validator("json", (body: unknown, c) => {
    const parsed = parseInjectBody(body, roomConfig(c.env));
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

api.get("/rooms/:room/members", async (c) => {
  const room = roomParam(c);
  const cursor = cursorQuery(c);
  const limit = intQuery(c, "limit", MAX_MEMBERS_PER_PAGE, 1) ?? MEMBER_PAGE;
  return c.json(await c.env.CHAT_ROOM.getByName(room).members(cursor, limit));
});

api.delete("/rooms/:room/members/:id", async (c) => {
  const room = roomParam(c);
  const ban = intQuery(c, "ban", MAX_BAN_SECONDS);
  const kind = c.req.query("kind") ?? null;
  if (kind !== null && kind !== "guest" && kind !== "verified")
    fail(400, 'invalid kind: use "verified" (a join token\'s sub) or "guest" (a guest\'s id)');
  const removed = await c.env.CHAT_ROOM.getByName(room).removeMember(
    c.req.param("id"),
    kind,
    ban || null,
  );
  if ("refused" in removed) fail(removed.refused, removed.error);
  if (removed.disconnected === 0 && removed.bannedUntil === null)
    fail(
      404,
      "no such member in this room: GET /api/rooms/:room/members lists their ids (page with ?cursor=<next>)",
    );
  return c.json(removed);
});

api.post(
  "/rooms/:room/tokens",
  validator("json", (body: unknown) => {
    const { sub, name, ttl } = (typeof body === "object" && body !== null ? body : {}) as Record<
      string,
      unknown
    >;
    if (typeof sub !== "string" || sub === "") fail(400, 'body needs a string "sub": the user id');
    if (name !== undefined && typeof name !== "string") fail(400, '"name" must be a string');
    if (
      ttl !== undefined &&
      (!Number.isInteger(ttl) || (ttl as number) < 1 || (ttl as number) > MAX_TOKEN_TTL_SECONDS)
    )
      fail(400, `"ttl" must be a whole number of seconds from 1 to ${MAX_TOKEN_TTL_SECONDS}`);
    return { sub, name, ttl: (ttl as number | undefined) ?? DEFAULT_TOKEN_TTL_SECONDS };
  }),
  async (c) => {
    const room = roomParam(c);
    // Whoever mints tokens can be anyone in any room: BROADCAST_TOKEN gets
    // that power only when the operator asks for it (docs/identity.md).
    if ((c.env.API_MINTS_JOIN_TOKENS as string) !== "true")
      fail(
        403,
        'minting join tokens through the API is off: set API_MINTS_JOIN_TOKENS = "true" to let holders of BROADCAST_TOKEN mint them, or mint them in your backend with JOIN_SECRET',
      );
    const secret = c.env.JOIN_SECRET;
    if (!secret) fail(503, "join tokens are disabled: JOIN_SECRET is not configured on the server");
    const { sub, name, ttl } = c.req.valid("json");
    const minted = await mintJoinToken(
      secret,
      { sub, room, ...(name === undefined ? {} : { name }) },
      ttl,
    );
    // The token must pass the same checks a socket will apply.
    const checked = await verifyJoinToken(
      minted.token,
      secret,
      room,
      roomConfig(c.env).maxNameChars,
    );
    if (!checked.ok) fail(400, checked.error.replace("join token", "token claims"));
    return c.json(minted, 201);
  },
);

// Room URLs with an empty, "." or ".." segment arrive collapsed to these.
const noRoom = () => missingRoom("/api/rooms/<room>");
for (const path of ["/rooms", "/rooms/", "/rooms//*"]) api.all(path, noRoom);

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
  return { key: header, fingerprint: toHex(digest) };
}
